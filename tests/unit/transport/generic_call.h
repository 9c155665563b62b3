// GenericCall: a gRPC C++ (C-core) client call of any method, on the generic
// stub, driven synchronously: what the transport tests call their servers
// with.
//
// Threading: thread-compatible; one caller at a time.
#ifndef JAWLB_TESTS_UNIT_TRANSPORT_GENERIC_CALL_H_
#define JAWLB_TESTS_UNIT_TRANSPORT_GENERIC_CALL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"

namespace jawlb::transport {

class GenericCall {
 public:
  GenericCall(grpc::GenericStub& stub, const std::string& method,
              absl::Duration timeout = absl::Seconds(30)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    call_ = stub.PrepareCall(&context_, method, &cq_);
    call_->StartCall(Tag());
    ok_ = Wait();
  }
  ~GenericCall() {
    context_.TryCancel();
    cq_.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) {
    }
  }
  bool Write(const std::string& text) {
    grpc::Slice slice(text);
    grpc::ByteBuffer buffer(&slice, 1);
    call_->Write(buffer, Tag());
    return Wait();
  }
  bool WritesDone() {
    call_->WritesDone(Tag());
    return Wait();
  }
  bool Read(std::string* text) {
    grpc::ByteBuffer buffer;
    call_->Read(&buffer, Tag());
    if (!Wait()) return false;
    std::vector<grpc::Slice> slices;
    (void)buffer.Dump(&slices);
    text->clear();
    for (const grpc::Slice& slice : slices) {
      text->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
    return true;
  }
  grpc::Status Finish() {
    grpc::Status status;
    call_->Finish(&status, Tag());
    Wait();
    return status;
  }
  bool started() const { return ok_; }

 private:
  void* Tag() { return reinterpret_cast<void*>(++next_tag_); }
  bool Wait() {
    void* tag = nullptr;
    bool ok = false;
    if (!cq_.Next(&tag, &ok)) return false;
    return ok;
  }

  grpc::ClientContext context_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  intptr_t next_tag_ = 0;
  bool ok_ = false;
};

}  // namespace jawlb::transport

#endif  // JAWLB_TESTS_UNIT_TRANSPORT_GENERIC_CALL_H_
