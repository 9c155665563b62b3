#include "common/tcp_listen.h"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace jawlb {

absl::StatusOr<int> ListenTcp(const std::string& host, int port, int backlog) {
  sockaddr_storage address{};
  socklen_t length = 0;
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  if (host.empty() || inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    if (host.empty()) v6->sin6_addr = in6addr_any;
    length = sizeof(sockaddr_in6);
  } else if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("\"", host, "\" is not an IP address"));
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 && host.empty()) {  // no IPv6 on this host: IPv4 only
    address = {};
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    v4->sin_addr.s_addr = htonl(INADDR_ANY);
    length = sizeof(sockaddr_in);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  const std::string where = absl::StrCat(host.empty() ? "*" : host, ":", port);
  if (fd < 0) return absl::UnavailableError(absl::StrCat(where, ": ", strerror(errno)));
  const int on = 1;
  const int off = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  if (address.ss_family == AF_INET6 && host.empty()) {
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));  // IPv4 too
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(fd, backlog) != 0) {
    const int error = errno;
    close(fd);
    return absl::UnavailableError(absl::StrCat(where, ": ", strerror(error)));
  }
  return fd;
}

int LocalPort(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return 0;
  if (local.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6&>(local).sin6_port);
  if (local.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in&>(local).sin_port);
  return 0;
}

}  // namespace jawlb
