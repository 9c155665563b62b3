// jawlb's HTTP/2 server at its limits: what a client that says nothing, says
// nonsense, vanishes, idles or stays too long gets — each costing only its own
// connection — and the drain's two-step GOAWAY. Raw sockets speak the bytes a
// misbehaving client would; gRPC C++'s client plays the well-behaved one.
#include <cstring>
#include <memory>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"
#include "tests/unit/transport/generic_call.h"
#include "transport/connection_listener.h"
#include "transport/grpc_message.h"
#include "transport/h2_server.h"

namespace jawlb::transport {
namespace {

using ::jawlb::testing::IsOk;

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// A raw TCP client.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawClient() { close(fd_); }
  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // The HTTP/2 preface and an empty SETTINGS frame.
  bool Hello() { return Send(std::string(kPreface) + std::string("\0\0\0\x04\0\0\0\0\0", 9)); }
  // Reads until the server closes the connection (true) or `timeout` passes;
  // what it read is kept.
  bool WaitForClose(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      char buffer[4096];
      const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) return true;
      read_.append(buffer, static_cast<size_t>(n));
    }
    return false;
  }
  // How many frames of `type` were read.
  int Count(int type) const {
    int count = 0;
    for (absl::string_view t : absl::StrSplit(FrameTypes(), ' ', absl::SkipEmpty())) {
      count += t == absl::StrCat(type) ? 1 : 0;
    }
    return count;
  }
  // The types of the HTTP/2 frames read so far ("4 7 4 7 ").
  std::string FrameTypes() const {
    std::string types;
    size_t at = 0;
    while (at + 9 <= read_.size()) {
      const size_t length = (static_cast<uint8_t>(read_[at]) << 16) |
                            (static_cast<uint8_t>(read_[at + 1]) << 8) |
                            static_cast<uint8_t>(read_[at + 2]);
      absl::StrAppend(&types, static_cast<int>(static_cast<uint8_t>(read_[at + 3])), " ");
      at += 9 + length;
    }
    return types;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string read_;
};

// Echo's simplest form: each message back at once (the tests send one at a
// time); a status when the client half-closes.
MethodHandler Echo() {
  class Handler : public ServerCall::Handler {
   public:
    explicit Handler(std::shared_ptr<ServerCall> call) : call_(std::move(call)) {}
    void OnMessage(std::string message) override {
      call_->Write(std::make_shared<const std::string>(FrameMessage(message)));
    }
    void OnHalfClose() override { call_->Finish(absl::OkStatus()); }
    void OnWriteDone(bool /*ok*/) override {}
    void OnDone(bool /*cancelled*/) override { call_.reset(); }

   private:
    std::shared_ptr<ServerCall> call_;
  };
  return [](std::shared_ptr<ServerCall> call) { call->Start(std::make_shared<Handler>(call)); };
}

class H2LimitsTest : public ::testing::Test {
 protected:
  void Start(H2Connection::Options options) {
    // As App wires them: the server tells the listener of each close.
    auto listener = ConnectionListener::Listen({.host = "127.0.0.1", .closes_reported = true});
    ASSERT_THAT(listener, IsOk());
    listener_ = *std::move(listener);
    H2Server::Options server_options;
    server_options.loops = 2;
    server_options.connection = options;
    server_options.on_close = [listener = listener_.get()](int fd) { listener->Closed(fd); };
    server_ = std::make_unique<H2Server>(server_options);
    server_->Register("/test.Echo/Stream", Echo());
    ASSERT_THAT(server_->Start(), IsOk());
    listener_->Start([this](int fd, const std::string& peer) { server_->Adopt(fd, peer); });
  }
  void TearDown() override {
    if (listener_ != nullptr) listener_->Stop();
    if (server_ != nullptr) server_->Stop();
  }
  int port() const { return listener_->port(); }
  // True when a well-behaved client's call is served.
  bool Served() {
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port()), grpc::InsecureChannelCredentials());
    grpc::GenericStub stub(channel);
    GenericCall call(stub, "/test.Echo/Stream", kWait);
    std::string got;
    return call.started() && call.Write("ping") && call.Read(&got) && got == "ping";
  }

  std::unique_ptr<H2Server> server_;
  std::unique_ptr<ConnectionListener> listener_;
};

TEST_F(H2LimitsTest, AConnectionThatSaysNothingIsClosed) {
  H2Connection::Options options;
  options.preface_timeout = absl::Milliseconds(200);
  ASSERT_NO_FATAL_FAILURE(Start(options));
  RawClient silent(port());
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.WaitForClose(kWait));
  EXPECT_TRUE(Served());
}

TEST_F(H2LimitsTest, NonsenseEndsOnlyItsOwnConnection) {
  ASSERT_NO_FATAL_FAILURE(Start({}));
  for (const std::string& nonsense :
       {std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // a TLS ClientHello
        std::string(4096, '\xff'),
        // The preface, then a DATA frame on stream 0 (a protocol error).
        std::string(kPreface) + std::string("\0\0\x01\0\0\0\0\0\0x", 10)}) {
    RawClient client(port());
    ASSERT_TRUE(client.connected());
    (void)client.Send(nonsense);
    EXPECT_TRUE(client.WaitForClose(kWait)) << nonsense.substr(0, 16);
  }
  EXPECT_TRUE(Served());
}

TEST_F(H2LimitsTest, AClientThatStopsAnsweringPingsIsClosed) {
  H2Connection::Options options;
  options.keepalive_time = absl::Milliseconds(100);
  options.keepalive_timeout = absl::Milliseconds(100);
  ASSERT_NO_FATAL_FAILURE(Start(options));
  RawClient mute(port());
  ASSERT_TRUE(mute.Hello());
  EXPECT_TRUE(mute.WaitForClose(kWait));
  // It was pinged (type 6) before it was closed.
  EXPECT_GE(mute.Count(6), 1) << mute.FrameTypes();
}

TEST_F(H2LimitsTest, AConnectionWithoutCallsIsSentAway) {
  H2Connection::Options options;
  options.idle_timeout = absl::Milliseconds(100);
  ASSERT_NO_FATAL_FAILURE(Start(options));
  RawClient idle(port());
  ASSERT_TRUE(idle.Hello());
  EXPECT_TRUE(idle.WaitForClose(kWait));
  // GOAWAY (type 7): the notice, then the final one.
  EXPECT_EQ(idle.Count(7), 2) << idle.FrameTypes();
}

TEST_F(H2LimitsTest, TheDrainSendsClientsAwayAndTheirCallsGoOn) {
  ASSERT_NO_FATAL_FAILURE(Start({}));
  RawClient before(port());
  ASSERT_TRUE(before.Hello());
  ASSERT_TRUE(Served());
  server_->Drain();
  // The raw client hears both GOAWAYs and, with no call open, is closed.
  EXPECT_TRUE(before.WaitForClose(kWait));
  EXPECT_EQ(before.Count(7), 2) << before.FrameTypes();
  // One that connects now is sent away at once.
  RawClient after(port());
  ASSERT_TRUE(after.Hello());
  EXPECT_TRUE(after.WaitForClose(kWait));
  EXPECT_EQ(after.Count(7), 2) << after.FrameTypes();
}

TEST_F(H2LimitsTest, ADrainedConnectionsOpenCallGoesOn) {
  ASSERT_NO_FATAL_FAILURE(Start({}));
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port()), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  {
    GenericCall call(stub, "/test.Echo/Stream", kWait);
    ASSERT_TRUE(call.started());
    std::string got;
    ASSERT_TRUE(call.Write("before") && call.Read(&got));
    server_->Drain();
    // Once the final GOAWAY is out, the call goes on.
    const absl::Time sent_by = absl::Now() + kWait;
    while (server_->goaways_sent() < 1 && absl::Now() < sent_by) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_EQ(server_->goaways_sent(), 1u);
    EXPECT_TRUE(call.Write("after") && call.Read(&got));
    EXPECT_EQ(got, "after");
    ASSERT_TRUE(call.WritesDone());
    const grpc::Status status = call.Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  // With its last call over, the connection closes.
  const absl::Time deadline = absl::Now() + kWait;
  while (server_->connections() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(server_->connections(), 0u);
}

}  // namespace
}  // namespace jawlb::transport
