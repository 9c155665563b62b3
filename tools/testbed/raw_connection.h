// RawConnection: a plain TCP connection to a port (IPv4 or IPv6 loopback),
// for tests that must send what no real client would, or nothing at all.
//
// Threading: thread-compatible.
#ifndef JAWLB_TOOLS_TESTBED_RAW_CONNECTION_H_
#define JAWLB_TOOLS_TESTBED_RAW_CONNECTION_H_

#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace jawlb::testbed {

class RawConnection {
 public:
  RawConnection(const std::string& ip, int port) {
    sockaddr_storage address{};
    socklen_t length = 0;
    if (ip.find(':') != std::string::npos) {
      auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr);
      length = sizeof(*v6);
    } else {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(port));
      inet_pton(AF_INET, ip.c_str(), &v4->sin_addr);
      length = sizeof(*v4);
    }
    fd_ = socket(address.ss_family, SOCK_STREAM, 0);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0;
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  bool Send(const std::string& data) {
    return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Everything until the server closes (or 60 s).
  std::string ReadAll() {
    timeval timeout{60, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    std::string all;
    char buffer[4096];
    for (ssize_t n; (n = read(fd_, buffer, sizeof(buffer))) > 0;) all.append(buffer, n);
    return all;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_RAW_CONNECTION_H_
