// Backend: one ip:port that clients may be sent to. The unit a BackendSet holds
// and a ServerList entry is made from. EndpointState: an address as the source
// saw it, with its conditions.
//
// Threading: a plain value type; thread-compatible.
#ifndef JAWLB_DISCOVERY_BACKEND_H_
#define JAWLB_DISCOVERY_BACKEND_H_

#include <compare>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jawlb::discovery {

struct Backend {
  // 4 bytes for IPv4, 16 for IPv6, network byte order: exactly what a grpclb
  // ServerList carries. An IPv4-mapped IPv6 address is always stored as IPv4.
  std::string ip;
  uint16_t port = 0;

  // "10.0.0.7:50051" or "[fd00::7]:50051".
  std::string ToString() const;

  friend auto operator<=>(const Backend&, const Backend&) = default;
};

// One address of an endpoint as the source describes it, used or not: what the
// state page shows, so an operator sees why a pod is not in the list.
struct EndpointState {
  std::string address;  // "10.0.0.7:50051"; port 0 when the object has no such port
  bool ready = false;
  bool serving = false;
  bool terminating = false;
  bool used = false;   // contributed to the backends
  std::string pod;     // targetRef.name when it names a Pod
  std::string zone;    // an EndpointSlice endpoint's zone, if it has one
  std::string object;  // the EndpointSlice / Endpoints it comes from
};

// Parses "a.b.c.d:port" or "[v6]:port". Host names are refused (a grpclb list
// carries addresses only), and so are port 0 and addresses no call can go to:
// unspecified (0.0.0.0/8, ::), broadcast and multicast. Errors are InvalidArgument naming the
// input and what is wrong with it.
absl::StatusOr<Backend> ParseBackend(absl::string_view text);

// Makes a Backend from an IP literal without brackets ("10.0.0.7", "fd00::7")
// and a port. InvalidArgument when `ip` is not an IP literal.
absl::StatusOr<Backend> MakeBackend(absl::string_view ip, uint16_t port);

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_BACKEND_H_
