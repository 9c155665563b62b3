// LbStream: a raw grpc.lb.v1 BalanceLoad stream to one balancer, on its own
// connection, for tests that look at what jawlb sends (or when it ends).
//
// Threading: thread-compatible; one reader at a time, as gRPC requires.
#ifndef JAWLB_TOOLS_TESTBED_LB_STREAM_H_
#define JAWLB_TOOLS_TESTBED_LB_STREAM_H_

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "grpc/lb/v1/load_balancer.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace jawlb::testbed {

struct LbStream {
  // Opens the stream to 127.0.0.1:`port` and sends the initial request for `name`.
  explicit LbStream(int port, const grpc::ChannelArguments& args = {},
                    const std::string& name = "echo.test:8000") {
    channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                        grpc::InsecureChannelCredentials(), args);
    stub = grpc::lb::v1::LoadBalancer::NewStub(channel);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(10)));
    rw = stub->BalanceLoad(&context);
    grpc::lb::v1::LoadBalanceRequest initial;
    initial.mutable_initial_request()->set_name(name);
    rw->Write(initial);
  }
  // Reads until a server list arrives; false if the stream ended first.
  bool ReadList(grpc::lb::v1::LoadBalanceResponse* list) {
    while (rw->Read(list)) {
      if (list->has_server_list()) return true;
    }
    return false;
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::lb::v1::LoadBalancer::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<
      grpc::ClientReaderWriter<grpc::lb::v1::LoadBalanceRequest, grpc::lb::v1::LoadBalanceResponse>>
      rw;
};

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_LB_STREAM_H_
