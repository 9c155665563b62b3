// The ServerCall contract on both transports — jawlb's HTTP/2 server and gRPC
// C++'s server through GrpcCalls — against gRPC C++'s own client (C-core,
// through its generic stub): streaming calls, statuses and their messages,
// unknown methods, oversized messages, many calls on one connection. The same
// handler serves on either.
#include "transport/server_call.h"

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "tests/common/eventually.h"
#include "tests/common/status_matchers.h"
#include "tests/unit/transport/generic_call.h"
#include "transport/completion_queues.h"
#include "transport/connection_listener.h"
#include "transport/grpc_calls.h"
#include "transport/grpc_message.h"
#include "transport/h2_server.h"

namespace jawlb::transport {
namespace {

using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;

// `message` `repeat` times over, framed, written as pieces of `piece` bytes
// after a piece holding the prefix alone.
WireMessage InPieces(const std::string& message, size_t repeat, size_t piece) {
  std::string body;
  for (size_t i = 0; i < repeat; ++i) body += message;
  std::string prefix;
  AppendMessagePrefix(prefix, body.size());
  WireMessage wire;
  wire.Add(std::make_shared<const std::string>(prefix));
  for (size_t at = 0; at < body.size(); at += piece) {
    wire.Add(std::make_shared<const std::string>(body.substr(at, piece)));
  }
  return wire;
}

// Echoes every message back, in order, one write in flight; finishes with
// `status` once the client half-closes (at once, before anything, if
// `fail_at_once`). With `pieces`, each message goes back 100 times over in
// pieces of 333 bytes (several DATA frames, pieces across their edges).
class Echo : public ServerCall::Handler, public std::enable_shared_from_this<Echo> {
 public:
  static MethodHandler Method(absl::Status status = absl::OkStatus(), bool fail_at_once = false,
                              bool pieces = false) {
    return [status, fail_at_once, pieces](std::shared_ptr<ServerCall> call) {
      auto echo = std::make_shared<Echo>(call, status, pieces);
      call->Start(echo);
      if (fail_at_once) call->Finish(status);
    };
  }
  Echo(std::shared_ptr<ServerCall> call, absl::Status status, bool pieces = false)
      : call_(std::move(call)), status_(std::move(status)), pieces_(pieces) {}

  void OnMessage(std::string message) override {
    if (pieces_) {
      queue_.push_back(InPieces(message, 100, 333));
    } else {
      queue_.emplace_back(std::make_shared<const std::string>(FrameMessage(message)));
    }
    Next();
  }
  void OnHalfClose() override {
    half_closed_ = true;
    Next();
  }
  void OnWriteDone(bool ok) override {
    writing_ = false;
    if (ok) Next();
  }
  void OnDone(bool /*cancelled*/) override { call_.reset(); }

 private:
  void Next() {
    if (call_ == nullptr || writing_) return;
    if (!queue_.empty()) {
      writing_ = true;
      call_->Write(queue_.front());
      queue_.pop_front();
    } else if (half_closed_) {
      call_->Finish(status_);
    }
  }

  std::shared_ptr<ServerCall> call_;
  const absl::Status status_;
  const bool pieces_;
  std::deque<WireMessage> queue_;
  bool writing_ = false;
  bool half_closed_ = false;
};

enum class Transport { kH2, kGrpc };

class ServerCallTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    std::map<std::string, MethodHandler> methods = {
        {"/test.Echo/Stream", Echo::Method()},
        {"/test.Echo/Refuse",
         Echo::Method(absl::PermissionDeniedError("no entry: café 100%"), true)},
        {"/test.Echo/Late", Echo::Method(absl::NotFoundError("gone"))},
        {"/test.Echo/Pieces", Echo::Method(absl::OkStatus(), false, /*pieces=*/true)},
        // Sets a timer an hour away; the call it was set on is kept in
        // long_timer_call_ (weakly), to see when it is freed.
        {"/test.Echo/LongTimer",
         [this](std::shared_ptr<ServerCall> call) {
           call->Start(std::make_shared<Echo>(call, absl::OkStatus()));
           call->RunAfter(absl::Hours(1), [] {});
           absl::MutexLock lock(&mu_);
           long_timer_call_ = call;
         }},
        // Ends itself 50 ms after it starts, from a timer.
        {"/test.Echo/Timer",
         [](std::shared_ptr<ServerCall> call) {
           call->Start(std::make_shared<Echo>(call, absl::OkStatus()));
           call->RunAfter(absl::Milliseconds(50), [call] {
             call->Finish(absl::DeadlineExceededError("the timer went off"));
           });
         }},
    };
    int port = 0;
    if (GetParam() == Transport::kH2) {
      H2Server::Options options;
      options.loops = 2;
      options.connection.max_message_bytes = 1024;
      h2_ = std::make_unique<H2Server>(options);
      for (auto& [method, handler] : methods) h2_->Register(method, handler);
      ASSERT_THAT(h2_->Start(), IsOk());
      auto listener = ConnectionListener::Listen({.host = "127.0.0.1"});
      ASSERT_THAT(listener, IsOk());
      listener_ = *std::move(listener);
      listener_->Start([this](int fd, const std::string& peer) { h2_->Adopt(fd, peer); });
      port = listener_->port();
    } else {
      queues_ = std::make_unique<CompletionQueues>(2);
      calls_ = std::make_unique<GrpcCalls>(*queues_);
      for (auto& [method, handler] : methods) calls_->Register(method, handler);
      grpc::ServerBuilder builder;
      builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
      builder.SetMaxReceiveMessageSize(1024);
      queues_->AddTo(builder);
      calls_->AddTo(builder);
      grpc_ = builder.BuildAndStart();
      ASSERT_NE(grpc_, nullptr);
      queues_->Start();
      calls_->Start();
    }
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    stub_ = std::make_unique<grpc::GenericStub>(channel_);
  }
  void TearDown() override {
    stub_.reset();
    channel_.reset();
    if (h2_ != nullptr) {
      listener_->Stop();
      h2_->Stop();
    } else {
      grpc_->Shutdown(absl::ToChronoTime(absl::Now()));
      calls_->Stop();
      queues_->Stop();
    }
  }
  size_t Connections() const { return h2_ != nullptr ? h2_->connections() : 1; }

  absl::Mutex mu_;
  std::weak_ptr<ServerCall> long_timer_call_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<H2Server> h2_;
  std::unique_ptr<ConnectionListener> listener_;
  std::unique_ptr<CompletionQueues> queues_;
  std::unique_ptr<GrpcCalls> calls_;
  std::unique_ptr<grpc::Server> grpc_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

INSTANTIATE_TEST_SUITE_P(Transports, ServerCallTest,
                         ::testing::Values(Transport::kH2, Transport::kGrpc), [](const auto& info) {
                           return info.param == Transport::kH2 ? "H2" : "Grpc";
                         });

TEST_P(ServerCallTest, AStreamingCallEchoesAndEndsWithItsStatus) {
  GenericCall call(*stub_, "/test.Echo/Stream");
  ASSERT_TRUE(call.started());
  std::string got;
  for (const std::string& message : std::vector<std::string>{"one", "", std::string(1000, 'x')}) {
    ASSERT_TRUE(call.Write(message));
    ASSERT_TRUE(call.Read(&got));
    EXPECT_EQ(got, message);
  }
  ASSERT_TRUE(call.WritesDone());
  EXPECT_FALSE(call.Read(&got));
  const grpc::Status status = call.Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_P(ServerCallTest, AMessageWrittenInPiecesArrivesWhole) {
  GenericCall call(*stub_, "/test.Echo/Pieces");
  ASSERT_TRUE(call.started());
  for (const std::string& message :
       std::vector<std::string>{"x", "a message of its own", std::string(1000, 'z')}) {
    ASSERT_TRUE(call.Write(message));
    std::string echoed;
    ASSERT_TRUE(call.Read(&echoed));
    std::string expected;
    for (int i = 0; i < 100; ++i) expected += message;
    EXPECT_EQ(echoed, expected);
  }
  ASSERT_TRUE(call.WritesDone());
  EXPECT_EQ(call.Finish().error_code(), grpc::StatusCode::OK);
}

TEST_P(ServerCallTest, StatusesAndTheirMessagesArriveWhole) {
  {
    // Trailers-Only, before any message: the code and the message,
    // percent-encoded on the wire and decoded by the client.
    GenericCall call(*stub_, "/test.Echo/Refuse");
    std::string got;
    EXPECT_FALSE(call.Read(&got));
    const grpc::Status status = call.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(status.error_message(), "no entry: café 100%");
  }
  {
    // Trailers after messages.
    GenericCall call(*stub_, "/test.Echo/Late");
    std::string got;
    ASSERT_TRUE(call.Write("hello"));
    ASSERT_TRUE(call.Read(&got));
    ASSERT_TRUE(call.WritesDone());
    EXPECT_FALSE(call.Read(&got));
    const grpc::Status status = call.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(status.error_message(), "gone");
  }
}

TEST_P(ServerCallTest, UnknownMethodsAndOversizedMessagesAreRefusedSayingWhy) {
  {
    GenericCall call(*stub_, "/test.Echo/Nothing");
    std::string got;
    EXPECT_FALSE(call.Read(&got));
    const grpc::Status status = call.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
    EXPECT_THAT(status.error_message(), HasSubstr("/test.Echo/Nothing"));
  }
  {
    GenericCall call(*stub_, "/test.Echo/Stream");
    (void)call.Write(std::string(1025, 'x'));
    std::string got;
    EXPECT_FALSE(call.Read(&got));
    const grpc::Status status = call.Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(status.error_message(), HasSubstr("1025"));  // and the limit, in either words
  }
  // The connection serves on.
  GenericCall call(*stub_, "/test.Echo/Stream");
  std::string got;
  ASSERT_TRUE(call.Write("still here"));
  ASSERT_TRUE(call.Read(&got));
  EXPECT_EQ(got, "still here");
}

TEST_P(ServerCallTest, TimersRunOnTheCall) {
  GenericCall call(*stub_, "/test.Echo/Timer");
  std::string got;
  EXPECT_FALSE(call.Read(&got));
  const grpc::Status status = call.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(status.error_message(), "the timer went off");
}

// A call's timer does not keep it: once over, the call is freed, not an
// hour later (a first-message deadline per call would otherwise hold every
// ended call for its 10 s under churn).
TEST_P(ServerCallTest, AnEndedCallIsFreedBeforeItsTimerIsDue) {
  {
    GenericCall call(*stub_, "/test.Echo/LongTimer");
    ASSERT_TRUE(call.started());
    ASSERT_TRUE(call.Write("x"));
    std::string got;
    ASSERT_TRUE(call.Read(&got));
    ASSERT_TRUE(call.WritesDone());
    EXPECT_EQ(call.Finish().error_code(), grpc::StatusCode::OK);
  }
  EXPECT_TRUE(::jawlb::testing::Eventually(
      [&] {
        absl::MutexLock lock(&mu_);
        return long_timer_call_.expired();
      },
      absl::Seconds(30)))
      << "the ended call is still held";
}

TEST_P(ServerCallTest, ManyCallsShareOneConnection) {
  std::vector<std::unique_ptr<GenericCall>> calls;
  for (int i = 0; i < 200; ++i) {
    calls.push_back(std::make_unique<GenericCall>(*stub_, "/test.Echo/Stream"));
    ASSERT_TRUE(calls.back()->Write(absl::StrCat("call ", i)));
  }
  for (int i = 0; i < 200; ++i) {
    std::string got;
    ASSERT_TRUE(calls[i]->Read(&got));
    EXPECT_EQ(got, absl::StrCat("call ", i));
  }
  EXPECT_EQ(Connections(), 1u);
  calls.clear();  // cancelled by the client: the server lets go of each
}

}  // namespace
}  // namespace jawlb::transport
