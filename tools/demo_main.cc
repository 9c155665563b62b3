// jawlb-demo: jawlb on a laptop, no cluster needed. Starts the test Kubernetes
// API server, three echo backends on 127.0.0.2-4 (one EndpointSlice each), the
// real jawlb binary watching Service "echo", dnsmasq with the _grpclb._tcp SRV
// record a headless Service would create, and a client using gRPC C++'s own
// grpclb policy. Then changes the slices with kubectl and prints how the
// client's RPCs spread after each change.
//
// With --live it keeps running after the script and prints the spread every
// two seconds, so you can change the service yourself with kubectl.
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <thread>
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
#include "testbed/kube_api.h"

namespace jawlb::testbed {
namespace {

constexpr int kRpcsPerRound = 300;

std::string SelfDir() {
  char path[4096] = {};
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  std::string self(path, n > 0 ? n : 0);
  return self.substr(0, self.rfind('/'));
}

void PrintSpread(const Spread& spread) {
  for (const auto& [name, count] : spread.calls) {
    std::printf("  %-6s %4d  %s\n", name.c_str(), count, std::string(count / 5, '#').c_str());
  }
  std::printf("  failed %4d%s\n", spread.failures,
              spread.failures > 0 ? absl::StrCat("  (", spread.last_error, ")").c_str() : "");
}

class Demo {
 public:
  absl::Status Run(bool live);

 private:
  // Writes the slice of backend `name` in `state` and runs `kubectl <verb> -f`.
  absl::Status Kubectl(const std::string& verb, const std::string& name, const std::string& state);
  absl::Status Round(const std::string& title, const std::set<std::string>& expected);

  const std::string dir_ = MakeTempDir("jawlb-demo.");
  std::map<std::string, std::unique_ptr<EchoBackend>> backends_;
  std::unique_ptr<KubeApi> api_;
  std::shared_ptr<grpc::Channel> channel_;
};

absl::Status Demo::Kubectl(const std::string& verb, const std::string& name,
                           const std::string& state) {
  const std::string address = backends_[name]->address();
  const size_t colon = address.rfind(':');
  const std::string file = absl::StrCat(dir_, "/", name, "-", state, ".json");
  std::ofstream(file) << EndpointSliceJson(absl::StrCat("echo-", name), "echo",
                                           std::stoi(address.substr(colon + 1)),
                                           {{address.substr(0, colon), state}});
  std::printf("$ kubectl %s -f %s\n", verb.c_str(), file.c_str());
  return api_->Kubectl({verb, "-f", file}).status();
}

absl::Status Demo::Round(const std::string& title, const std::set<std::string>& expected) {
  std::printf("%s\n", title.c_str());
  if (!expected.empty()) {
    if (absl::Status status = WaitForSpread(channel_, expected, true, 30, absl::Seconds(60));
        !status.ok()) {
      return status;
    }
  } else {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (CallMany(channel_, 1).failures == 0 && absl::Now() < deadline) {
    }
  }
  PrintSpread(CallMany(channel_, kRpcsPerRound));
  std::printf("\n");
  return absl::OkStatus();
}

absl::Status Demo::Run(bool live) {
  auto api = KubeApi::Start(KUBEAPI_BINARY, dir_, KUBECTL_BINARY);
  if (!api.ok()) return api.status();
  api_ = *std::move(api);
  std::printf("test Kubernetes API server at %s\n", api_->url().c_str());
  int i = 0;
  for (const char* name : {"alpha", "beta", "gamma"}) {
    auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + i++));
    if (!backend.ok()) return backend.status();
    std::printf("backend %-6s on %s\n", name, (*backend)->address().c_str());
    backends_[name] = *std::move(backend);
  }
  for (const char* name : {"alpha", "beta"}) {
    if (absl::Status status = Kubectl("create", name, "ready"); !status.ok()) return status;
  }
  auto jawlb = JawlbProcess::Start(
      SelfDir() + "/jawlb",
      {"JAWLB_SERVICE=echo", "KUBECONFIG=" + api_->kubeconfig(), "JAWLB_WATCHSTALLTIMEOUT=10s"},
      dir_ + "/jawlb.log");
  if (!jawlb.ok()) return jawlb.status();
  std::printf(
      "jawlb   on 127.0.0.1:%d, watching EndpointSlices of service default/echo\n"
      "        state page http://127.0.0.1:%d/ (also /debug/state, /readyz, /healthz)\n",
      (*jawlb)->port(), (*jawlb)->admin_port());
  DnsServer::Records records;
  records.a = {{"jawlb.demo", "127.0.0.1"}, {"echo.demo", "127.0.0.1"}};
  records.grpclb = {{"echo.demo", "jawlb.demo", (*jawlb)->port()}};
  auto dns = DnsServer::Start(records, dir_);
  if (!dns.ok()) return dns.status();
  std::printf("dnsmasq on %s: _grpclb._tcp.echo.demo SRV -> jawlb.demo:%d\n",
              (*dns)->address().c_str(), (*jawlb)->port());
  // Fallback would go to this port, where nothing listens: every RPC that
  // succeeds went through jawlb's list.
  absl::StatusOr<int> unused_port = PickFreePort("127.0.0.1");
  if (!unused_port.ok()) return unused_port.status();
  const std::string target = absl::StrCat("echo.demo:", *unused_port);
  std::printf("client  dials dns://%s/%s with gRPC's grpclb policy\n\n", (*dns)->address().c_str(),
              target.c_str());
  channel_ = MakeGrpclbChannel((*dns)->address(), target);

  absl::Status status = Round("1. slices for alpha and beta", {"alpha", "beta"});
  if (status.ok()) status = Kubectl("create", "gamma", "ready");
  if (status.ok()) status = Round("2. gamma's pod became ready", {"alpha", "beta", "gamma"});
  if (status.ok()) status = Kubectl("replace", "beta", "notready");
  if (status.ok()) status = Round("3. beta fails its readiness probe", {"alpha", "gamma"});
  if (status.ok()) status = Kubectl("replace", "alpha", "terminating");
  if (status.ok()) status = Round("4. alpha is terminating", {"gamma"});
  if (status.ok()) status = Kubectl("replace", "alpha", "ready");
  if (status.ok()) status = Kubectl("replace", "beta", "ready");
  if (status.ok()) status = Round("5. all ready again", {"alpha", "beta", "gamma"});
  if (!status.ok()) {
    std::printf("\njawlb's log:\n%s", (*jawlb)->process().Output().c_str());
    return status;
  }
  if (live) {
    std::printf(
        "Live: change the service from another terminal, for example\n"
        "  export KUBECONFIG=%s\n"
        "  kubectl get endpointslices\n"
        "  kubectl replace -f %s/gamma-notready.json\n"
        "  kubectl delete endpointslice echo-beta\n"
        "  kubectl create -f %s/beta-ready.json\n"
        "jawlb's log: %s/jawlb.log. Ctrl-C ends the demo.\n\n",
        api_->kubeconfig().c_str(), dir_.c_str(), dir_.c_str(), dir_.c_str());
    const std::string gamma = backends_["gamma"]->address();
    std::ofstream(dir_ + "/gamma-notready.json")
        << EndpointSliceJson("echo-gamma", "echo", std::stoi(gamma.substr(gamma.rfind(':') + 1)),
                             {{gamma.substr(0, gamma.rfind(':')), "notready"}});
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    timespec two_seconds{2, 0};
    while (sigtimedwait(&set, nullptr, &two_seconds) < 0) {
      std::printf("spread of the last %d RPCs:\n", 100);
      PrintSpread(CallMany(channel_, 100, absl::Seconds(1)));
    }
  }
  (*jawlb)->process().Stop(SIGTERM, absl::Seconds(30));
  return absl::OkStatus();
}

}  // namespace
}  // namespace jawlb::testbed

int main(int argc, char** argv) {
  const bool live = argc > 1 && std::string(argv[1]) == "--live";
  if (live) {
    // Ctrl-C is handled by the demo loop (sigtimedwait), so it can clean up.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  jawlb::testbed::Demo demo;
  const absl::Status status = demo.Run(live);
  if (!status.ok()) {
    std::fprintf(stderr, "jawlb-demo failed: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  std::printf("demo finished: every kubectl change reached the client through jawlb.\n");
  return 0;
}
