#include "grpclb/connection_cutter.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace jawlb::grpclb {
namespace {

// The address and port of "ipv4:a.b.c.d:port" or "ipv6:[addr]:port".
bool ParsePeer(absl::string_view peer, sockaddr_storage& out) {
  out = {};
  const bool v6 = absl::ConsumePrefix(&peer, "ipv6:");
  if (!v6 && !absl::ConsumePrefix(&peer, "ipv4:")) return false;
  const size_t colon = peer.rfind(':');
  if (colon == absl::string_view::npos) return false;
  int port = 0;
  if (!absl::SimpleAtoi(peer.substr(colon + 1), &port) || port <= 0 || port > 65535) return false;
  absl::string_view host = peer.substr(0, colon);
  if (v6) {
    if (!absl::ConsumePrefix(&host, "[") || !absl::ConsumeSuffix(&host, "]")) return false;
    // A zone ("%eth0") is not part of the address bytes.
    host = host.substr(0, host.find('%'));
    auto* address = reinterpret_cast<sockaddr_in6*>(&out);
    address->sin6_family = AF_INET6;
    address->sin6_port = htons(static_cast<uint16_t>(port));
    return inet_pton(AF_INET6, std::string(host).c_str(), &address->sin6_addr) == 1;
  }
  auto* address = reinterpret_cast<sockaddr_in*>(&out);
  address->sin_family = AF_INET;
  address->sin_port = htons(static_cast<uint16_t>(port));
  return inet_pton(AF_INET, std::string(host).c_str(), &address->sin_addr) == 1;
}

// Whether `a` (from getpeername) is the address `want` names; an IPv4 peer on
// a dual-stack socket shows as ::ffff:a.b.c.d.
bool SameAddress(const sockaddr_storage& a, const sockaddr_storage& want) {
  if (a.ss_family == AF_INET && want.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(want);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  if (a.ss_family != AF_INET6) return false;
  const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  if (want.ss_family == AF_INET6) {
    const auto& y = reinterpret_cast<const sockaddr_in6&>(want);
    return x.sin6_port == y.sin6_port && memcmp(&x.sin6_addr, &y.sin6_addr, 16) == 0;
  }
  const auto& y = reinterpret_cast<const sockaddr_in&>(want);
  return x.sin6_port == y.sin_port && IN6_IS_ADDR_V4MAPPED(&x.sin6_addr) &&
         memcmp(&x.sin6_addr.s6_addr[12], &y.sin_addr.s_addr, 4) == 0;
}

int LocalPort(int fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return -1;
  if (local.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in&>(local).sin_port);
  if (local.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6&>(local).sin6_port);
  return -1;
}

}  // namespace

absl::Status CutConnection(absl::string_view peer, int local_port) {
  sockaddr_storage want;
  if (!ParsePeer(peer, want)) {
    return absl::InvalidArgumentError(absl::StrCat("not a TCP peer: \"", peer, "\""));
  }
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) {
    return absl::UnavailableError(absl::StrCat("/proc/self/fd: ", strerror(errno)));
  }
  const int own = dirfd(fds);
  bool cut = false;
  while (dirent* entry = readdir(fds)) {
    int fd = 0;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == own) continue;
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
    if (!SameAddress(address, want) || LocalPort(fd) != local_port) continue;
    shutdown(fd, SHUT_RDWR);
    cut = true;
  }
  closedir(fds);
  if (!cut) return absl::NotFoundError(absl::StrCat("no open connection from ", peer));
  return absl::OkStatus();
}

}  // namespace jawlb::grpclb
