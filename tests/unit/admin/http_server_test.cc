#include "admin/http_server.h"

#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"

namespace jawlb::admin {
namespace {

using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A client on 127.0.0.1 that sends a request and reads when asked.
class Client {
 public:
  explicit Client(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    timeval timeout{60, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~Client() { close(fd_); }
  void Get(const std::string& path) {
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
    EXPECT_EQ(send(fd_, request.data(), request.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(request.size()));
  }
  // The status line and what follows, until the server closes.
  std::string ReadAll() {
    std::string all;
    char buffer[65536];
    for (ssize_t n; (n = read(fd_, buffer, sizeof(buffer))) > 0;) all.append(buffer, n);
    return all;
  }
  // The first bytes of the answer (waits for them).
  std::string ReadSome() {
    char buffer[256];
    const ssize_t n = read(fd_, buffer, sizeof(buffer));
    return n > 0 ? std::string(buffer, n) : "";
  }

 private:
  const int fd_;
};

// Slow readers of a large page (/debug/state with many clients) cannot make
// the server hold more than its budget: past it, large answers are 503, and
// small ones (the probes) are still served.
TEST(HttpServerTest, LargeResponsesWaitingForSlowReadersAreBounded) {
  HttpServer::Options options;
  options.host = "127.0.0.1";
  options.max_buffered_bytes = 40 << 20;
  const std::string large(32 << 20, 'x');
  auto server = HttpServer::Start(options, [&](const HttpServer::Request& request) {
    if (request.path == "/large") return HttpServer::Response{200, "text/plain", large};
    return HttpServer::Response{200, "text/plain", "ok\n"};
  });
  ASSERT_THAT(server, IsOk());
  const int port = (*server)->port();
  Client slow(port);  // asks for 32 MB and does not read: the kernel takes a few
  slow.Get("/large");
  EXPECT_THAT(slow.ReadSome(), StartsWith("HTTP/1.1 200"));
  Client second(port);  // 32 MB more would pass the 40 MB budget
  second.Get("/large");
  const std::string refused = second.ReadAll();
  EXPECT_THAT(refused, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(refused, HasSubstr("busy"));
  Client probe(port);
  probe.Get("/healthz");
  EXPECT_THAT(probe.ReadAll(), StartsWith("HTTP/1.1 200"));
  // Once the slow one has taken its answer, a large one is served again.
  EXPECT_GT(slow.ReadAll().size() + 256, large.size());
  Client third(port);
  third.Get("/large");
  EXPECT_THAT(third.ReadAll(), StartsWith("HTTP/1.1 200"));
}

}  // namespace
}  // namespace jawlb::admin
