#include "discovery/own_address_filter.h"

#include <vector>

#include <ifaddrs.h>
#include <netinet/in.h>

#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"

namespace jawlb::discovery {
namespace {

// The IP addresses (4 or 16 bytes) a client reaches jawlb at: `host`, or with
// every interface ("") each interface's.
absl::flat_hash_set<std::string> OwnAddresses(const std::string& host) {
  absl::flat_hash_set<std::string> own;
  if (!host.empty()) {
    if (absl::StatusOr<Backend> self = MakeBackend(host, 1); self.ok()) own.insert(self->ip);
    return own;
  }
  ifaddrs* interfaces = nullptr;
  if (getifaddrs(&interfaces) != 0) return own;
  for (ifaddrs* i = interfaces; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      own.insert(std::string(reinterpret_cast<const char*>(&v4->sin_addr), 4));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      own.insert(std::string(reinterpret_cast<const char*>(&v6->sin6_addr), 16));
    }
  }
  freeifaddrs(interfaces);
  return own;
}

}  // namespace

OwnAddressFilter::OwnAddressFilter(const std::string& host, int port)
    : port_(port), any_interface_(host.empty()), ips_(OwnAddresses(host)) {}

BackendSet OwnAddressFilter::operator()(BackendSet backends) const {
  std::vector<Backend> kept;
  std::vector<std::string> left_out;
  for (const Backend& backend : backends.backends()) {
    const bool loopback = backend.ip.size() == 4 && backend.ip[0] == 127;
    if (backend.port == port_ && (ips_.contains(backend.ip) || (loopback && any_interface_))) {
      left_out.push_back(backend.ToString());
    } else {
      kept.push_back(backend);
    }
  }
  if (left_out.empty()) return backends;
  int64_t suppressed = 0;
  if (log_->Allow(Clock::Real().Now(), suppressed)) {
    spdlog::error(
        "backends: {} is jawlb's own gRPC address (clients would send their calls to "
        "the balancer): left out",
        absl::StrJoin(left_out, ", "));
  }
  return backends.Restrict(std::move(kept));
}

}  // namespace jawlb::discovery
