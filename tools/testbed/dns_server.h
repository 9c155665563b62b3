// DnsServer: dnsmasq on a free 127.0.0.1 port serving the records a grpclb
// client looks up in a Kubernetes cluster: `_grpclb._tcp.<name>` SRV pointing at
// the balancer, and A records. Nothing else is answered (no upstream).
//
// Threading: thread-compatible.
#ifndef JAWLB_TOOLS_TESTBED_DNS_SERVER_H_
#define JAWLB_TOOLS_TESTBED_DNS_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "testbed/subprocess.h"

namespace jawlb::testbed {

class DnsServer {
 public:
  struct Records {
    // name → IPv4 address.
    std::vector<std::pair<std::string, std::string>> a;
    // SRV `_grpclb._tcp.<service name>` → (balancer host name, port).
    std::vector<std::tuple<std::string, std::string, int>> grpclb;
  };

  // Starts dnsmasq (from $DNSMASQ, else /usr/sbin/dnsmasq) with `records`,
  // logging into `dir`. Unavailable when it cannot start.
  static absl::StatusOr<std::unique_ptr<DnsServer>> Start(const Records& records,
                                                          const std::string& dir);

  // "127.0.0.1:port", for a dns:// target's authority.
  const std::string& address() const { return address_; }

 private:
  DnsServer(std::unique_ptr<Subprocess> process, std::string address)
      : process_(std::move(process)), address_(std::move(address)) {}

  std::unique_ptr<Subprocess> process_;
  const std::string address_;
};

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_DNS_SERVER_H_
