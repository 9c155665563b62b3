// OwnAddressFilter: leaves jawlb's own gRPC address out of a backend set. A
// static list, a file or a Service that names the balancer itself would send
// clients' calls to the balancer; such entries are left out, and logged (a
// line a minute at most).
//
// Threading: thread-safe (const, and a shared log throttle).
#ifndef JAWLB_DISCOVERY_OWN_ADDRESS_FILTER_H_
#define JAWLB_DISCOVERY_OWN_ADDRESS_FILTER_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"

#include "common/log_throttle.h"
#include "discovery/backend_set.h"

namespace jawlb::discovery {

class OwnAddressFilter {
 public:
  // jawlb listens on `host` ("": every interface, whose addresses are read
  // now) and `port`.
  OwnAddressFilter(const std::string& host, int port);

  // `backends` without jawlb's own address.
  BackendSet operator()(BackendSet backends) const;

 private:
  const int port_;
  const bool any_interface_;
  absl::flat_hash_set<std::string> ips_;  // 4 or 16 bytes each; constant
  std::shared_ptr<SharedLogThrottle> log_ = std::make_shared<SharedLogThrottle>(absl::Minutes(1));
};

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_OWN_ADDRESS_FILTER_H_
