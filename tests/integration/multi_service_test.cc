// JAWLB_MODE=multi: one jawlb serving two services to real grpclb clients
// (gRPC C++'s grpclb policy through DNS SRV: each service's SRV record names the
// same jawlb), each client seeing only its service's backends; watches start
// with a service's first client and stop when it has had none for the idle
// timeout (seen in the test API server's counts), all over one connection to
// the API server; a name outside the allowed
// namespaces is refused; one service's failing watch leaves the other served.
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/kube_api.h"
#include "testbed/lb_stream.h"
#include "tests/common/eventually.h"
#include "tests/common/status_matchers.h"
#include "tests/integration/whoami_client.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::Eventually;
using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kWait = absl::Seconds(60);

class MultiServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto api = KubeApi::Start(KUBEAPI_BINARY, dir_, KUBECTL_BINARY);
    ASSERT_THAT(api, IsOk());
    api_ = *std::move(api);
    // alpha has two backends, beta one; each backend in a slice of its own.
    for (const auto& [service, name] : std::vector<std::pair<std::string, std::string>>{
             {"alpha", "a1"}, {"alpha", "a2"}, {"beta", "b1"}}) {
      auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + backends_.size()));
      ASSERT_THAT(backend, IsOk());
      const std::string address = (*backend)->address();
      ASSERT_THAT(api_->Put("endpointslices",
                            EndpointSliceJson(absl::StrCat(service, "-", name), service,
                                              std::stoi(address.substr(address.find(':') + 1)),
                                              {{address.substr(0, address.find(':')), "ready"}})),
                  IsOk());
      backends_.push_back(*std::move(backend));
    }
    // The clients dial alpha.test and beta.test: routes say which services.
    const std::string routes = dir_ + "/routes.yaml";
    std::ofstream(routes) << "alpha.test: default/alpha\nbeta.test: default/beta\n";
    std::vector<std::string> env = {"JAWLB_MODE=multi", "KUBECONFIG=" + api_->kubeconfig(),
                                    "JAWLB_ROUTES=" + routes, "JAWLB_IDLETIMEOUT=1s"};
    for (std::string& setting : ExtraEnv()) env.push_back(std::move(setting));
    auto jawlb = JawlbProcess::Start(JAWLB_BINARY, env, dir_ + "/jawlb.log");
    ASSERT_THAT(jawlb, IsOk());
    jawlb_ = *std::move(jawlb);
    DnsServer::Records records;
    records.a = {
        {"jawlb.test", "127.0.0.1"}, {"alpha.test", "127.0.0.1"}, {"beta.test", "127.0.0.1"}};
    records.grpclb = {{"alpha.test", "jawlb.test", jawlb_->port()},
                      {"beta.test", "jawlb.test", jawlb_->port()}};
    auto dns = DnsServer::Start(records, dir_);
    ASSERT_THAT(dns, IsOk());
    dns_ = *std::move(dns);
    absl::StatusOr<int> port = PickFreePort("127.0.0.1");  // fallback: nothing listens
    ASSERT_THAT(port, IsOk());
    port_ = *port;
  }

  // Settings beyond the fixture's own.
  virtual std::vector<std::string> ExtraEnv() const { return {}; }

  std::shared_ptr<grpc::Channel> Client(const std::string& service) {
    return MakeGrpclbChannel(dns_->address(), absl::StrCat(service, ".test:", port_));
  }

  int Stat(const std::string& name) {
    absl::StatusOr<int> value = api_->Stat(name);
    EXPECT_THAT(value, IsOk());
    return value.ok() ? *value : -1;
  }

  std::string Metrics() {
    auto got = HttpGet(absl::StrCat("http://127.0.0.1:", jawlb_->admin_port(), "/metrics"));
    EXPECT_THAT(got, IsOk());
    return got.ok() ? got->second : "";
  }

  // Has Debian's Prometheus parser judge /metrics: exit 0 and its output.
  std::pair<int, std::string> ParsedMetrics() {
    const std::string file = dir_ + "/metrics.txt";
    std::ofstream(file) << Metrics();
    FILE* pipe = popen(absl::StrCat(PYTHON3, " ", PARSE_METRICS, " ", file).c_str(), "r");
    std::string output;
    char buffer[4096];
    while (pipe != nullptr && fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
    const int status = pipe == nullptr ? -1 : pclose(pipe);
    return {status, output};
  }

  void TearDown() override {
    if (jawlb_ != nullptr) {
      EXPECT_TRUE(ExitedWith(jawlb_->process().Stop(SIGTERM, absl::Seconds(60)), 0));
    }
  }

  const std::string dir_ = MakeTempDir("multi_service_test.");
  std::unique_ptr<KubeApi> api_;
  std::vector<std::unique_ptr<EchoBackend>> backends_;
  std::unique_ptr<JawlbProcess> jawlb_;
  std::unique_ptr<DnsServer> dns_;
  int port_ = 0;
};

TEST_F(MultiServiceTest, EachClientGetsItsServiceWatchedOnDemandAndDroppedWhenIdle) {
  // Nothing is watched before a client asks.
  ASSERT_TRUE(Eventually([&] { return absl::StrContains(Metrics(), "jawlb_ready 1"); }));
  EXPECT_EQ(Stat("activeWatches"), 0);

  std::shared_ptr<grpc::Channel> alpha = Client("alpha");
  ASSERT_THAT(WaitForSpread(alpha, {"a1", "a2"}, true, 20, kWait), IsOk());
  EXPECT_TRUE(Eventually([&] { return Stat("activeWatches") == 1; }));
  std::shared_ptr<grpc::Channel> beta = Client("beta");
  ASSERT_THAT(WaitForSpread(beta, {"b1"}, true, 20, kWait), IsOk());
  EXPECT_TRUE(Eventually([&] { return Stat("activeWatches") == 2; }));
  // One Kubernetes I/O thread and one connection for every watch (HTTP/2).
  EXPECT_EQ(Stat("connections"), 1);
  // Still each its own: alpha's clients never reach beta's backend.
  const Spread spread = CallMany(alpha, 40);
  EXPECT_EQ(spread.calls.count("b1"), 0u) << spread.ToString();
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("jawlb_services_watched 2"));
  EXPECT_THAT(metrics, HasSubstr(R"(jawlb_service_backends_sent{service="default/alpha"} 2)"));
  EXPECT_THAT(metrics, HasSubstr(R"(jawlb_service_backends_sent{service="default/beta"} 1)"));
  // The process-wide figure is their sum (it stayed 0 in multi mode before).
  EXPECT_THAT(metrics, HasSubstr(R"x(jawlb_backends_sent{service="(multi)"} 3)x"));
  EXPECT_THAT(metrics, HasSubstr(R"(jawlb_service_streams{service="default/beta"} 1)"));

  // alpha's client leaves: after the idle timeout alpha is no longer watched,
  // beta still is.
  alpha.reset();
  EXPECT_TRUE(Eventually([&] { return Stat("activeWatches") == 1; }));
  EXPECT_THAT(Metrics(), HasSubstr("jawlb_services_dropped_total 1"));
  ASSERT_THAT(WaitForSpread(beta, {"b1"}, true, 10, kWait), IsOk());
  // And comes back on demand.
  alpha = Client("alpha");
  ASSERT_THAT(WaitForSpread(alpha, {"a1", "a2"}, true, 20, kWait), IsOk());
}

TEST_F(MultiServiceTest, RefusedNamesAndMissingServicesEndTheStreamSayingWhy) {
  LbStream stream(jawlb_->port(), {}, "kube-dns.kube-system.svc.cluster.local:53");
  grpc::lb::v1::LoadBalanceResponse response;
  EXPECT_FALSE(stream.ReadList(&response));
  const grpc::Status status = stream.rw->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(status.error_message(), HasSubstr("kube-system"));
  EXPECT_THAT(status.error_message(), HasSubstr("JAWLB_NAMESPACES"));
  EXPECT_EQ(Stat("lists"), 0);  // and nothing was read for it
  // A Service that does not exist: NOT_FOUND, saying which.
  LbStream missing(jawlb_->port(), {}, "nosuch:8000");
  EXPECT_FALSE(missing.ReadList(&response));
  const grpc::Status not_found = missing.rw->Finish();
  EXPECT_EQ(not_found.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(not_found.error_message(), HasSubstr("service default/nosuch not found"));
  // The convention works without a route too: "beta" is default/beta.
  LbStream plain(jawlb_->port(), {}, "beta:8000");
  ASSERT_TRUE(plain.ReadList(&response));
  EXPECT_EQ(response.server_list().servers_size(), 1);
}

// xDS names route exactly as grpclb names do: gRPC C++'s xDS client, one ADS
// stream for both channels of this process, each seeing only its service;
// grpclb and xDS clients of one service side by side get the same backends;
// a refused name and a missing service fail at once, saying why.
TEST_F(MultiServiceTest, XdsNamesRouteAsGrpclbNames) {
  absl::StatusOr<std::string> bootstrap =
      XdsBootstrap(JAWLB_BINARY, jawlb_->port(), "multi-service-test", "test");
  ASSERT_THAT(bootstrap, IsOk());
  setenv("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap->c_str(), 1);
  const std::string bootstrap_file = dir_ + "/bootstrap.json";
  std::ofstream(bootstrap_file) << *bootstrap;
  auto xds = [this](const std::string& name) {
    return grpc::CreateChannel(absl::StrCat("xds:///", name, ":", port_),
                               grpc::InsecureChannelCredentials());
  };
  auto alpha = xds("alpha.test");
  auto beta = xds("beta.test");
  ASSERT_THAT(WaitForSpread(alpha, {"a1", "a2"}, true, 30, kWait), IsOk());
  ASSERT_THAT(WaitForSpread(beta, {"b1"}, true, 10, kWait), IsOk());
  // A grpclb client of alpha beside them: the same backends.
  ASSERT_THAT(WaitForSpread(Client("alpha"), {"a1", "a2"}, true, 30, kWait), IsOk());

  auto refused = xds("kube-dns.kube-system.svc.cluster.local");
  Spread spread = CallMany(refused, 1, absl::Seconds(30));
  EXPECT_EQ(spread.failures, 1);
  EXPECT_THAT(spread.last_error, HasSubstr("kube-system")) << spread.ToString();
  auto missing = xds("nosuch");
  spread = CallMany(missing, 1, absl::Seconds(30));
  EXPECT_EQ(spread.failures, 1);
  EXPECT_THAT(spread.last_error, HasSubstr("service default/nosuch not found"))
      << spread.ToString();

  // grpc-js's xDS client routes the same way: beta's backend, and a refused
  // name failing every call at once, saying why.
  auto node_beta =
      SpawnWhoami(absl::StrCat("xds:///beta.test:", port_), bootstrap_file, dir_ + "/beta.log");
  ASSERT_THAT(node_beta, IsOk());
  EXPECT_GT(WaitForWindow(**node_beta, "b1", 0, kWait), 0) << (*node_beta)->Output();
  auto node_refused = SpawnWhoami("xds:///kube-dns.kube-system.svc.cluster.local", bootstrap_file,
                                  dir_ + "/refused.log");
  ASSERT_THAT(node_refused, IsOk());
  EXPECT_GT(WaitForWindow(**node_refused, "", 0, kWait), 0) << (*node_refused)->Output();
  EXPECT_THAT((*node_refused)->Output(), HasSubstr("kube-system"));
}

TEST_F(MultiServiceTest, OneServicesFailingWatchLeavesTheOtherServed) {
  // Every request for beta's slices is refused (403) many times over.
  ASSERT_THAT(api_->Control("/fault/status?code=403&count=1000000&path=service-name=beta"), IsOk());
  std::shared_ptr<grpc::Channel> alpha = Client("alpha");
  ASSERT_THAT(WaitForSpread(alpha, {"a1", "a2"}, true, 20, kWait), IsOk());
  LbStream beta(jawlb_->port(), {}, "beta.test:8000");
  // The error is counted against beta, and only beta.
  EXPECT_TRUE(Eventually([&] {
    return absl::StrContains(
        Metrics(),
        R"(jawlb_service_kubernetes_errors_total{service="default/beta",operation="list",reason="permission_denied"})");
  })) << Metrics();
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics,
              Not(HasSubstr(R"(jawlb_service_kubernetes_errors_total{service="default/alpha")")));
  EXPECT_THAT(metrics,
              HasSubstr(R"(jawlb_service_kubernetes_lists_total{service="default/alpha"} 1)"));
  EXPECT_THAT(metrics,
              HasSubstr(R"(jawlb_service_kubernetes_lists_total{service="default/beta"} 0)"));
  // alpha keeps following its changes while beta's watch fails.
  ASSERT_THAT(api_->Delete("endpointslices", "alpha-a2"), IsOk());
  ASSERT_THAT(WaitForSpread(alpha, {"a1"}, true, 20, kWait), IsOk());
  // The change's propagation is counted for alpha, and the whole exposition
  // (per-service families included) is valid Prometheus text.
  const auto [status, parsed] = ParsedMetrics();
  EXPECT_EQ(status, 0) << parsed;
  const std::string count =
      R"(jawlb_service_list_propagation_seconds_count{service="default/alpha"} )";
  const size_t at = parsed.find(count);
  ASSERT_NE(at, std::string::npos) << parsed;
  double value = 0;
  ASSERT_TRUE(absl::SimpleAtod(
      parsed.substr(at + count.size(), parsed.find('\n', at) - at - count.size()), &value));
  EXPECT_GE(value, 1);
}

// Subsetting and health checks apply to each service on its own.
class MultiServiceBalancingTest : public MultiServiceTest {
 protected:
  std::vector<std::string> ExtraEnv() const override {
    return {"JAWLB_MAXSERVERS=1", "JAWLB_HEALTHCHECK=grpc"};
  }
};

TEST_F(MultiServiceBalancingTest, SubsetsAndHealthChecksArePerService) {
  std::shared_ptr<grpc::Channel> alpha = Client("alpha");
  std::shared_ptr<grpc::Channel> beta = Client("beta");
  ASSERT_THAT(WaitForSpread(beta, {"b1"}, true, 20, kWait), IsOk());
  // alpha's client gets one of alpha's two backends (k=1).
  Spread spread;
  ASSERT_TRUE(Eventually([&] {
    spread = CallMany(alpha, 20);
    return spread.failures == 0 && spread.calls.size() == 1;
  })) << spread.ToString();
  const std::string used = spread.calls.begin()->first;
  ASSERT_TRUE(used == "a1" || used == "a2") << spread.ToString();
  const std::string other = used == "a1" ? "a2" : "a1";

  // Its backend says NOT_SERVING: alpha's health checks take it out, and the
  // client's subset moves to the other, with no failed call.
  backends_[used == "a1" ? 0 : 1]->SetServing(false);
  ASSERT_THAT(WaitForSpread(alpha, {other}, true, 20, kWait), IsOk());
  spread = CallMany(alpha, 20);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  EXPECT_EQ(spread.calls.count(used), 0u) << spread.ToString();
  // beta is untouched; the metrics and /debug/state say which service has a
  // failing backend.
  ASSERT_THAT(WaitForSpread(beta, {"b1"}, true, 10, kWait), IsOk());
  EXPECT_TRUE(Eventually([&] {
    const std::string metrics = Metrics();
    return absl::StrContains(
               metrics, R"(jawlb_service_health_backends_failing{service="default/alpha"} 1)") &&
           absl::StrContains(metrics,
                             R"(jawlb_service_health_backends_failing{service="default/beta"} 0)");
  })) << Metrics();
  auto state = HttpGet(absl::StrCat("http://127.0.0.1:", jawlb_->admin_port(), "/debug/state"));
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(state->second,
              HasSubstr(R"("service":"default/alpha","streams":1,"idle_since":null,)"
                        R"("drop_percent":0,"health":{"failing":1,"panic":false}})"));
  // It serves again: back in alpha's list (after its hold), beta still fine.
  backends_[used == "a1" ? 0 : 1]->SetServing(true);
  EXPECT_TRUE(Eventually([&] {
    return absl::StrContains(Metrics(),
                             R"(jawlb_service_health_backends_failing{service="default/alpha"} 0)");
  }));
  const auto [status, parsed] = ParsedMetrics();
  EXPECT_EQ(status, 0) << parsed;
}

// Issue 13, item 3: one connection naming 2,000 nonexistent services cost
// 2,000 LISTs, 2,000 open WATCHes and, with health checks, 1,541 threads. Now a
// name that matches nothing costs one LIST and no watch or thread, and one
// client address may start only JAWLB_MAXSERVICESPERPEER services at a time.
class MultiServiceLimitsTest : public MultiServiceTest {
 protected:
  std::vector<std::string> ExtraEnv() const override {
    return {"JAWLB_HEALTHCHECK=grpc", "JAWLB_MAXSERVICESPERPEER=20"};
  }
};

TEST_F(MultiServiceLimitsTest, NamesAClientMakesUpCostALookupEachAndAreBounded) {
  ASSERT_TRUE(Eventually([&] { return absl::StrContains(Metrics(), "jawlb_ready 1"); }));
  auto threads = [&] {
    for (absl::string_view line : absl::StrSplit(Metrics(), '\n')) {
      double value = 0;
      if (absl::ConsumePrefix(&line, "process_threads ") && absl::SimpleAtod(line, &value)) {
        return static_cast<int>(value);
      }
    }
    return -1;
  };
  const int threads_before = threads();
  // 60 made-up names on one connection.
  grpc::ChannelArguments args;
  int not_found = 0;
  int exhausted = 0;
  std::string refusal;
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", jawlb_->port()),
                                           grpc::InsecureChannelCredentials(), args);
  auto stub = grpc::lb::v1::LoadBalancer::NewStub(channel);
  for (int i = 0; i < 60; ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    auto stream = stub->BalanceLoad(&context);
    grpc::lb::v1::LoadBalanceRequest initial;
    initial.mutable_initial_request()->set_name(absl::StrCat("made-up-", i));
    stream->Write(initial);
    grpc::lb::v1::LoadBalanceResponse response;
    while (stream->Read(&response)) {
    }
    const grpc::Status status = stream->Finish();
    not_found += status.error_code() == grpc::StatusCode::NOT_FOUND ? 1 : 0;
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      refusal = status.error_message();
    }
  }
  // 20 at a time were looked up (one LIST each) and found missing; the rest
  // refused until those are forgotten (10 s later: on a slow machine, some).
  EXPECT_GE(not_found, 20);
  EXPECT_GE(exhausted, 1);
  EXPECT_EQ(not_found + exhausted, 60);
  EXPECT_THAT(refusal, HasSubstr("JAWLB_MAXSERVICESPERPEER"));
  EXPECT_EQ(Stat("lists"), not_found);
  EXPECT_EQ(Stat("activeWatches"), 0);
  // No health-check thread per name (20 would show); gRPC may add one of its own.
  EXPECT_LE(threads(), threads_before + 2);
  // A real service is still served, with its health checks (a thread of its own).
  std::shared_ptr<grpc::Channel> alpha = Client("alpha");
  ASSERT_THAT(WaitForSpread(alpha, {"a1", "a2"}, true, 20, kWait), IsOk());
  EXPECT_TRUE(Eventually([&] { return Stat("activeWatches") == 1; }));
}

}  // namespace
}  // namespace jawlb::testbed
