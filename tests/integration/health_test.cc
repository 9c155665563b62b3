// JAWLB_HEALTHCHECK=grpc with a real grpclb client (gRPC C++'s grpclb policy
// through DNS SRV) and backends listed by the test Kubernetes API server: a
// backend that says NOT_SERVING stops getting RPCs while Kubernetes still lists
// it as ready, comes back when it serves again, and one that dies is dropped.
#include <memory>
#include <string>
#include <vector>

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/kube_api.h"
#include "tests/common/eventually.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::Eventually;
using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(60);

TEST(HealthTest, NotServingBackendGetsNoTrafficWhileKubernetesStillListsIt) {
  const std::string dir = MakeTempDir("health_test.");
  std::vector<std::unique_ptr<EchoBackend>> backends;
  auto api = KubeApi::Start(KUBEAPI_BINARY, dir, KUBECTL_BINARY);
  ASSERT_THAT(api, IsOk());
  for (const char* name : {"alpha", "beta", "gamma"}) {
    auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + backends.size()));
    ASSERT_THAT(backend, IsOk());
    const std::string address = (*backend)->address();
    const std::string ip = address.substr(0, address.find(':'));
    const int port = std::stoi(address.substr(address.find(':') + 1));
    // One slice per backend (each listens on its own port), all ready.
    ASSERT_THAT((*api)->Put("endpointslices", EndpointSliceJson(absl::StrCat("echo-", name), "echo",
                                                                port, {{ip, "ready"}})),
                IsOk());
    backends.push_back(*std::move(backend));
  }
  auto jawlb = JawlbProcess::Start(
      JAWLB_BINARY,
      {"JAWLB_SERVICE=echo", "KUBECONFIG=" + (*api)->kubeconfig(), "JAWLB_HEALTHCHECK=grpc"},
      dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  absl::StatusOr<EchoClient> client = ConnectEchoClient(dir, (*jawlb)->port());
  ASSERT_THAT(client, IsOk());
  std::shared_ptr<grpc::Channel> channel = client->channel;

  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kWait), IsOk());

  // beta says NOT_SERVING: within a moment no RPC reaches it.
  backends[1]->SetServing(false);
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "gamma"}, true, 30, kWait), IsOk());
  const int64_t beta_calls = backends[1]->calls();
  const Spread spread = CallMany(channel, 60);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  EXPECT_EQ(backends[1]->calls(), beta_calls) << spread.ToString();
  // ... while Kubernetes still lists it as ready, and jawlb says why it is out.
  auto state = HttpGet(absl::StrCat("http://127.0.0.1:", (*jawlb)->admin_port(), "/debug/state"));
  ASSERT_THAT(state, IsOk());
  const std::string beta = backends[1]->address();
  EXPECT_THAT(state->second, HasSubstr(absl::StrCat("{\"address\":\"", beta,
                                                    "\",\"last\":\"not_serving\",\"detail\":"
                                                    "\"NOT_SERVING\",\"removed\":true")));
  EXPECT_THAT(state->second, HasSubstr(absl::StrCat("\"address\":\"", beta, "\"")));
  auto slices = (*api)->Kubectl(
      {"get", "endpointslices", "echo-beta", "-o", "jsonpath={.endpoints[0].conditions.ready}"});
  ASSERT_THAT(slices, IsOk());
  EXPECT_EQ(*slices, "true");

  // It serves again: back in the lists after its hold.
  backends[1]->SetServing(true);
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kWait), IsOk());

  // gamma dies (its pod still listed): dropped as unreachable. The client's
  // own round robin skips a dead backend at once, so what shows jawlb's
  // removal is its list, not the client's spread: waited for on /metrics.
  backends[2]->Stop();
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta"}, true, 30, kWait), IsOk());
  absl::StatusOr<std::pair<int, std::string>> metrics;
  EXPECT_TRUE(Eventually([&] {
    metrics = HttpGet(absl::StrCat("http://127.0.0.1:", (*jawlb)->admin_port(), "/metrics"));
    return metrics.ok() && absl::StrContains(metrics->second, "jawlb_health_removals_total 2");
  }));
  ASSERT_THAT(metrics, IsOk());
  EXPECT_THAT(metrics->second, HasSubstr("jawlb_health_removals_total 2"));
  EXPECT_THAT(metrics->second, HasSubstr("jawlb_health_readmissions_total 1"));
  EXPECT_THAT(metrics->second, HasSubstr("jawlb_health_panic 0"));
  channel.reset();
  EXPECT_TRUE(ExitedWith((*jawlb)->process().Stop(SIGTERM, absl::Seconds(60)), 0));
}

}  // namespace
}  // namespace jawlb::testbed
