// libFuzzer target: the bytes a client connection sends, as jawlb's HTTP/2
// server reads them (nghttp2's framing and HPACK, then H2Connection and
// H2Call: request checks, gRPC message framing, calls started, written to
// and finished). Each input is one connection through a socketpair, read to
// its end; whatever the bytes, the connection must end and nothing else be
// hurt (ASan, UBSan). The server's answers are read and dropped.
//
//   build-asan/h2_connection_fuzzer -max_total_time=60 NEW_DIR fuzz/corpus/h2_connection
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

#include "transport/grpc_message.h"
#include "transport/h2_server.h"

namespace {

using jawlb::transport::H2Server;
using jawlb::transport::MethodHandler;
using jawlb::transport::ServerCall;

// Echoes each message and ends the call when the client's side ends: the
// write, finish and trailer paths all run.
class Echo : public ServerCall::Handler {
 public:
  explicit Echo(std::shared_ptr<ServerCall> call) : call_(std::move(call)) {}
  void OnMessage(std::string message) override {
    if (call_ != nullptr && !writing_) {
      writing_ = true;
      call_->Write(std::make_shared<const std::string>(jawlb::transport::FrameMessage(message)));
    }
  }
  void OnHalfClose() override {
    if (call_ != nullptr) call_->Finish(absl::OkStatus());
  }
  void OnWriteDone(bool /*ok*/) override { writing_ = false; }
  void OnDone(bool /*cancelled*/) override { call_.reset(); }

 private:
  std::shared_ptr<ServerCall> call_;
  bool writing_ = false;
};

H2Server& Server() {
  static H2Server* const server = [] {
    spdlog::set_level(spdlog::level::off);
    H2Server::Options options;
    options.loops = 1;
    options.connection.max_message_bytes = 1024;
    options.connection.max_concurrent_streams = 16;
    auto* made = new H2Server(options);
    const MethodHandler echo = [](std::shared_ptr<ServerCall> call) {
      call->Start(std::make_shared<Echo>(call));
    };
    made->Register("/grpc.lb.v1.LoadBalancer/BalanceLoad", echo);
    made->Register("/test.Echo/Stream", echo);
    if (!made->Start().ok()) abort();
    return made;
  }();
  return *server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  H2Server& server = Server();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return 0;
  const int client = fds[1];
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  server.Adopt(fds[0], "ipv4:127.0.0.1:1");
  // Everything at once, then the end of the client's side.
  for (size_t done = 0; done < size;) {
    const ssize_t n = send(client, data + done, size - done, MSG_NOSIGNAL);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  shutdown(client, SHUT_WR);
  // Read (and drop) the answers until the server closes its end.
  fcntl(client, F_SETFL, O_NONBLOCK);
  char buffer[65536];
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  for (;;) {
    const ssize_t n = recv(client, buffer, sizeof(buffer), 0);
    if (n == 0) break;
    if (n < 0) std::this_thread::yield();
    if (absl::Now() > deadline) abort();  // a connection that never ends: a bug
  }
  close(client);
  while (server.connections() > 0) std::this_thread::yield();
  return 0;
}
