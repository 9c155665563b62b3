#include "testbed/dns_server.h"

#include <cstdlib>
#include <set>

#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace jawlb::testbed {

absl::StatusOr<std::unique_ptr<DnsServer>> DnsServer::Start(const Records& records,
                                                            const std::string& dir) {
  const char* binary = getenv("DNSMASQ");
  const passwd* user = getpwuid(geteuid());
  absl::Status last_error = absl::UnavailableError("dnsmasq did not start");
  // A port found free can be taken before dnsmasq binds it: try a few.
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<int> port = PickFreePort("127.0.0.1");
    if (!port.ok()) return port.status();
    std::vector<std::string> argv = {
        binary != nullptr ? binary : "/usr/sbin/dnsmasq",
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        absl::StrCat("--port=", *port),
        "--pid-file=",
        "--log-facility=-",
        "--log-queries",
        absl::StrCat("--user=", user != nullptr ? user->pw_name : "nobody"),
    };
    // Authoritative for the records' top-level domains: a query dnsmasq has no
    // record for gets NXDOMAIN / NODATA, not REFUSED (grpc-go's resolver fails
    // a host lookup whose AAAA query is refused).
    std::set<std::string> domains;
    for (const auto& [name, ip] : records.a) {
      argv.push_back(absl::StrCat("--host-record=", name, ",", ip));
      domains.insert(name.substr(name.rfind('.') + 1));
    }
    for (const std::string& domain : domains)
      argv.push_back(absl::StrCat("--local=/", domain, "/"));
    for (const auto& [service, host, target_port] : records.grpclb) {
      argv.push_back(
          absl::StrCat("--srv-host=_grpclb._tcp.", service, ",", host, ",", target_port, ",0,0"));
    }
    absl::StatusOr<std::unique_ptr<Subprocess>> process =
        Subprocess::Spawn(argv, {}, absl::StrCat(dir, "/dnsmasq.log"));
    if (!process.ok()) return process.status();
    absl::StatusOr<std::string> started =
        (*process)->WaitForLine("started, version", absl::Seconds(30));
    if (started.ok()) {
      return std::unique_ptr<DnsServer>(
          new DnsServer(*std::move(process), absl::StrCat("127.0.0.1:", *port)));
    }
    last_error = started.status();
    (*process)->Stop(SIGKILL, absl::Seconds(5));
  }
  return absl::UnavailableError(absl::StrCat("dnsmasq: ", last_error.message()));
}

}  // namespace jawlb::testbed
