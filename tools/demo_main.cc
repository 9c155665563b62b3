// jawlb-demo: jawlb on a laptop, no cluster needed. Starts three echo backends
// on 127.0.0.2-4, the real jawlb binary serving them from an endpoints file,
// dnsmasq with the _grpclb._tcp SRV record a Kubernetes headless Service would
// create, and a client using gRPC C++'s own grpclb policy. Then edits the file
// and prints how the client's RPCs spread over the backends each time.
#include <cstdio>
#include <fstream>
#include <set>
#include <vector>

#include <signal.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/jawlb_process.h"

namespace jawlb::testbed {
namespace {

constexpr int kRpcsPerRound = 300;

std::string SelfDir() {
  char path[4096] = {};
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  std::string self(path, n > 0 ? n : 0);
  return self.substr(0, self.rfind('/'));
}

void WriteEndpoints(const std::string& path, const std::vector<const EchoBackend*>& backends) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << absl::StrJoin(backends, "\n", [](std::string* out, const EchoBackend* b) {
    out->append(b->address());
  }) << "\n";
  std::rename(tmp.c_str(), path.c_str());
}

absl::Status Round(const std::shared_ptr<grpc::Channel>& channel, const std::string& title,
                   const std::vector<const EchoBackend*>& listed) {
  std::set<std::string> names;
  for (const EchoBackend* backend : listed) names.insert(backend->name());
  std::printf("\n%s\n", title.c_str());
  if (absl::Status status = WaitForSpread(channel, names, true, 30, absl::Seconds(60));
      !status.ok()) {
    return status;
  }
  const Spread spread = CallMany(channel, kRpcsPerRound);
  for (const auto& [name, count] : spread.calls) {
    std::printf("  %-6s %4d  %s\n", name.c_str(), count, std::string(count / 5, '#').c_str());
  }
  std::printf("  failed %4d\n", spread.failures);
  return absl::OkStatus();
}

absl::Status RunDemo() {
  const std::string dir = MakeTempDir("jawlb-demo.");
  std::vector<std::unique_ptr<EchoBackend>> backends;
  int i = 0;
  for (const char* name : {"alpha", "beta", "gamma"}) {
    absl::StatusOr<std::unique_ptr<EchoBackend>> backend =
        EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + i++));
    if (!backend.ok()) return backend.status();
    std::printf("backend %-6s on %s\n", name, (*backend)->address().c_str());
    backends.push_back(*std::move(backend));
  }
  const EchoBackend *alpha = backends[0].get(), *beta = backends[1].get(),
                    *gamma = backends[2].get();
  const std::string endpoints = dir + "/endpoints";
  WriteEndpoints(endpoints, {alpha, beta, gamma});

  auto jawlb = JawlbProcess::Start(SelfDir() + "/jawlb", {"JAWLB_ENDPOINTSFILE=" + endpoints},
                                   dir + "/jawlb.log");
  if (!jawlb.ok()) return jawlb.status();
  std::printf("jawlb   on 127.0.0.1:%d (log: %s/jawlb.log)\n", (*jawlb)->port(), dir.c_str());

  // What Kubernetes DNS serves for a headless Service "echo-lb" with a port named
  // grpclb, and the A record of the name the client dials.
  DnsServer::Records records;
  records.a = {{"jawlb.demo", "127.0.0.1"}, {"echo.demo", "127.0.0.1"}};
  records.grpclb = {{"echo.demo", "jawlb.demo", (*jawlb)->port()}};
  auto dns = DnsServer::Start(records, dir);
  if (!dns.ok()) return dns.status();
  std::printf("dnsmasq on %s: _grpclb._tcp.echo.demo SRV -> jawlb.demo:%d\n",
              (*dns)->address().c_str(), (*jawlb)->port());

  // The port in the target is where fallback would go; nothing listens there, so
  // every RPC that succeeds went through jawlb's list.
  absl::StatusOr<int> unused_port = PickFreePort("127.0.0.1");
  if (!unused_port.ok()) return unused_port.status();
  const std::string target = absl::StrCat("echo.demo:", *unused_port);
  std::printf("client  dials dns://%s/%s with the grpclb policy\n", (*dns)->address().c_str(),
              target.c_str());
  auto channel = MakeGrpclbChannel((*dns)->address(), target);

  absl::Status status =
      Round(channel, "1. endpoints file: alpha, beta, gamma", {alpha, beta, gamma});
  if (status.ok()) {
    WriteEndpoints(endpoints, {alpha, beta});
    status = Round(channel, "2. gamma removed from the file", {alpha, beta});
  }
  if (status.ok()) {
    WriteEndpoints(endpoints, {gamma});
    status = Round(channel, "3. only gamma in the file", {gamma});
  }
  if (status.ok()) {
    WriteEndpoints(endpoints, {alpha, beta, gamma});
    status = Round(channel, "4. all three back", {alpha, beta, gamma});
  }
  (*jawlb)->process().Stop(SIGTERM, absl::Seconds(30));
  std::printf("\njawlb's log:\n%s", (*jawlb)->process().Output().c_str());
  return status;
}

}  // namespace
}  // namespace jawlb::testbed

int main() {
  const absl::Status status = jawlb::testbed::RunDemo();
  if (!status.ok()) {
    std::fprintf(stderr, "jawlb-demo failed: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  std::printf("\ndemo finished: every change of the list reached the client.\n");
  return 0;
}
