#include "transport/grpc_calls.h"

#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "grpcpp/alarm.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"
#include "transport/connection_listener.h"
#include "transport/grpc_message.h"
#include "transport/peer.h"

namespace jawlb::transport {
namespace {

// `bytes` from `offset` on, as a slice that keeps them alive.
grpc::Slice SliceOf(const SharedBytes& bytes, size_t offset) {
  auto* owner = new SharedBytes(bytes);
  return grpc::Slice(
      const_cast<char*>(bytes->data()) + offset, bytes->size() - offset,
      [](void* user_data) { delete static_cast<SharedBytes*>(user_data); }, owner);
}

// `message` without its prefix (gRPC frames it), as slices of its pieces.
grpc::ByteBuffer BufferOf(const WireMessage& message) {
  absl::InlinedVector<grpc::Slice, 2> slices;
  size_t skip = kMessagePrefixBytes;  // in the first piece
  for (const SharedBytes& piece : message.pieces()) {
    if (piece->size() > skip) slices.push_back(SliceOf(piece, skip));
    skip = 0;
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::string Bytes(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  (void)buffer.Dump(&slices);
  std::string bytes;
  bytes.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return bytes;
}

}  // namespace

// One call: gRPC's generic stream behind the ServerCall interface.
class GrpcCalls::Call final : public ServerCall, public std::enable_shared_from_this<Call> {
 public:
  enum class Op { kAccept, kRead, kWrite, kFinish, kDone, kAlarm };
  using Tag = OpTag<Call, Op>;

  // Asks for the next call: of `method` through its requester, or (null) of
  // any method through the generic service.
  static void Accept(GrpcCalls& calls, grpc::ServerCompletionQueue* cq, size_t shard,
                     const Method* method) {
    auto call = std::make_shared<Call>(calls, cq, shard, method);
    Call* raw = call.get();
    calls.live_.Add();
    {
      absl::MutexLock lock(&raw->mu_);
      raw->self_ = std::move(call);
    }
    raw->context_.AsyncNotifyWhenDone(&raw->done_tag_);
    if (method != nullptr) {
      method->requester(&raw->context_, &raw->stream_, cq, &raw->accept_tag_);
    } else {
      calls.service_.RequestCall(&raw->context_, &raw->stream_, cq, cq, &raw->accept_tag_);
    }
  }

  Call(GrpcCalls& calls, grpc::ServerCompletionQueue* cq, size_t shard, const Method* method)
      : calls_(calls), cq_(cq), shard_(shard), requested_(method) {}

  void OnEvent(Op op, bool ok) {
    switch (op) {
      case Op::kAccept:
        OnAccept(ok);
        return;
      case Op::kRead:
        OnRead(ok);
        break;
      case Op::kWrite:
        OnWrite(ok);
        break;
      case Op::kFinish: {
        absl::MutexLock lock(&mu_);
        finish_done_ = true;
        break;
      }
      case Op::kDone: {
        const bool cancelled = context_.IsCancelled();
        bool alarm_pending = false;
        {
          absl::MutexLock lock(&mu_);
          call_done_ = true;
          cancelled_ = cancelled;
          alarm_pending = alarm_pending_;
        }
        if (alarm_pending) alarm_.Cancel();  // its tag comes back at once, not ok
        if (cancelled) Finish(absl::CancelledError("cancelled by the client"));
        break;
      }
      case Op::kAlarm: {
        absl::AnyInvocable<void()> task;
        {
          absl::MutexLock lock(&mu_);
          alarm_pending_ = false;
          task = std::move(alarm_task_);
        }
        if (ok && task != nullptr) Post(std::move(task));
        break;
      }
    }
    MaybeRelease();
  }

  void RunAfter(absl::Duration delay, absl::AnyInvocable<void()> task) override {
    {
      absl::MutexLock lock(&mu_);
      if (alarm_pending_ || call_done_) return;  // one at a time; none once over
      alarm_pending_ = true;
      alarm_task_ = std::move(task);
    }
    alarm_.Set(cq_, absl::ToChronoTime(Clock::Real().Now() + delay), &alarm_tag_);
  }

  // ServerCall:
  const std::string& method() const override {
    return requested_ != nullptr ? requested_->path : context_.method();
  }
  const std::string& peer() const override { return peer_; }
  size_t shard() const override { return shard_; }

  void Start(std::shared_ptr<Handler> handler) override {
    {
      absl::MutexLock lock(&mu_);
      handler_ = std::move(handler);
      if (finish_requested_ || call_done_) return;
      read_in_flight_ = true;
    }
    stream_.Read(&request_, &read_tag_);
  }

  void Write(WireMessage message) override {
    const grpc::ByteBuffer* out = nullptr;  // out_: not touched while the write is in flight
    {
      absl::MutexLock lock(&mu_);
      if (!finish_requested_ && !call_done_ && !write_in_flight_) {
        write_in_flight_ = true;
        out_ = BufferOf(message);
        out = &out_;
      }
    }
    if (out == nullptr) {
      Post([this] { Tell([](Handler& handler) { handler.OnWriteDone(false); }); });
      return;
    }
    stream_.Write(*out, &write_tag_);
  }

  void Finish(absl::Status status) override {
    {
      absl::MutexLock lock(&mu_);
      if (finish_requested_) return;
      finish_requested_ = true;
      finish_status_ =
          grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
      if (write_in_flight_) return;  // after the write
      finish_called_ = true;
    }
    stream_.Finish(finish_status_, &finish_tag_);
  }

  void Post(absl::AnyInvocable<void()> task) override {
    {
      absl::MutexLock lock(&strand_mu_);
      if (strand_running_) {  // the thread running the strand takes it next
        strand_.push_back(std::move(task));
        return;
      }
      strand_running_ = true;
    }
    // Idle: run it here, then whatever was posted meanwhile, in order.
    task();
    std::vector<absl::AnyInvocable<void()>> batch;
    for (;;) {
      {
        absl::MutexLock lock(&strand_mu_);
        if (strand_.empty()) {
          strand_running_ = false;
          return;
        }
        batch.swap(strand_);
      }
      for (auto& next : batch) next();
      batch.clear();
    }
  }

 private:
  void OnAccept(bool ok) {
    if (!ok) {  // shutting down: no call, and no done event
      std::shared_ptr<Call> self;
      {
        absl::MutexLock lock(&mu_);
        self = std::move(self_);
      }
      calls_.live_.Done();
      return;
    }
    Accept(calls_, cq_, shard_, requested_);
    peer_ = PeerOfContext();
    const Method* method = requested_;
    if (method == nullptr) {
      auto found = calls_.methods_.find(context_.method());
      // A method with a requester of its own never arrives generically.
      if (found != calls_.methods_.end() && found->second.requester == nullptr) {
        method = &found->second;
      }
    }
    if (method == nullptr) {
      Finish(absl::UnimplementedError("unknown method " + context_.method()));
      MaybeRelease();
      return;
    }
    std::shared_ptr<Call> self = shared_from_this();
    const MethodHandler& handler = method->handler;
    Post([self, &handler] { handler(self); });
    MaybeRelease();
  }

  std::string PeerOfContext() const;

  void OnRead(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      read_in_flight_ = false;
    }
    if (!ok) {
      Post([this] { Tell([](Handler& handler) { handler.OnHalfClose(); }); });
      return;
    }
    std::string message = Bytes(request_);
    request_.Clear();
    Post([this, message = std::move(message)]() mutable {
      Tell([&message](Handler& handler) { handler.OnMessage(std::move(message)); });
    });
    {
      absl::MutexLock lock(&mu_);
      if (finish_called_ || call_done_) return;
      read_in_flight_ = true;
    }
    stream_.Read(&request_, &read_tag_);
  }

  void OnWrite(bool ok) {
    bool finish = false;
    {
      absl::MutexLock lock(&mu_);
      write_in_flight_ = false;
      out_.Clear();
      if (finish_requested_ && !finish_called_) finish = finish_called_ = true;
    }
    Post([this, ok] { Tell([ok](Handler& handler) { handler.OnWriteDone(ok); }); });
    if (finish) stream_.Finish(finish_status_, &finish_tag_);
  }

  // Calls `what` on the handler, unless the call is over for it. On the strand.
  template <typename F>
  void Tell(F what) {
    std::shared_ptr<Handler> handler;
    {
      absl::MutexLock lock(&mu_);
      handler = handler_;
    }
    if (handler != nullptr) what(*handler);
  }

  void MaybeRelease() {
    std::shared_ptr<Call> self;
    bool cancelled = false;
    {
      absl::MutexLock lock(&mu_);
      if (self_ == nullptr || !call_done_ || read_in_flight_ || write_in_flight_ ||
          alarm_pending_ || (finish_called_ && !finish_done_) ||
          (finish_requested_ && !finish_called_)) {
        return;
      }
      self = std::move(self_);
      cancelled = cancelled_ || !finish_called_;
    }
    // The last callback, after all others on the strand.
    Post([self, cancelled] {
      std::shared_ptr<Handler> handler;
      {
        absl::MutexLock lock(&self->mu_);
        handler = std::exchange(self->handler_, nullptr);
      }
      if (handler != nullptr) handler->OnDone(cancelled);
    });
    calls_.live_.Done();
  }

  GrpcCalls& calls_;
  grpc::ServerCompletionQueue* const cq_;
  const size_t shard_;
  const Method* const requested_;  // null: a generic call
  Tag accept_tag_{this, Op::kAccept};
  Tag read_tag_{this, Op::kRead};
  Tag write_tag_{this, Op::kWrite};
  Tag finish_tag_{this, Op::kFinish};
  Tag done_tag_{this, Op::kDone};
  Tag alarm_tag_{this, Op::kAlarm};
  grpc::Alarm alarm_;
  grpc::GenericServerContext context_;
  grpc::GenericServerAsyncReaderWriter stream_{&context_};
  std::string peer_;          // set at the accept, before anything reads it
  grpc::ByteBuffer request_;  // the read chain's

  absl::Mutex mu_;
  std::shared_ptr<Call> self_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Handler> handler_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer out_ ABSL_GUARDED_BY(mu_);  // the write in flight
  grpc::Status finish_status_;                 // written once, before finish_called_
  bool read_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_done_ ABSL_GUARDED_BY(mu_) = false;
  bool call_done_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool alarm_pending_ ABSL_GUARDED_BY(mu_) = false;
  absl::AnyInvocable<void()> alarm_task_ ABSL_GUARDED_BY(mu_);

  absl::Mutex strand_mu_;
  std::vector<absl::AnyInvocable<void()>> strand_ ABSL_GUARDED_BY(strand_mu_);
  bool strand_running_ ABSL_GUARDED_BY(strand_mu_) = false;
};

std::string GrpcCalls::Call::PeerOfContext() const {
  return ConnectionListener::PeerOf(context_.peer());
}

GrpcCalls::~GrpcCalls() { Stop(); }

void GrpcCalls::Register(std::string method, MethodHandler handler, Requester requester) {
  std::string path = method;
  methods_.insert_or_assign(std::move(method),
                            Method{std::move(path), std::move(handler), std::move(requester)});
}

void GrpcCalls::AddTo(grpc::ServerBuilder& builder) {
  builder.RegisterAsyncGenericService(&service_);
}

void GrpcCalls::Start() {
  started_ = true;
  for (size_t i = 0; i < queues_.size(); ++i) {
    for (int n = 0; n < 2; ++n) Call::Accept(*this, queues_.queue(i), i, nullptr);
    for (const auto& [path, method] : methods_) {
      if (method.requester == nullptr) continue;
      // A few calls asked for ahead: a burst of new clients is taken at once.
      for (int n = 0; n < 4; ++n) Call::Accept(*this, queues_.queue(i), i, &method);
    }
  }
}

void GrpcCalls::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  if (!live_.WaitForNone(absl::Seconds(30))) {
    spdlog::error("transport: gRPC calls still alive 30 s after the server shut down");
  }
}

}  // namespace jawlb::transport
