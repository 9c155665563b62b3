// Backend weights with a real grpclb client (gRPC C++'s grpclb policy through
// DNS SRV): an EndpointSlice annotated jawlb.io/weight=3 gets three times the
// calls of an unannotated one, as duplicate entries in the list; changing the
// annotation (here with the real kubectl) changes the split.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/ads_client.h"
#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/kube_api.h"
#include "tests/common/status_matchers.h"
#include "tests/integration/whoami_client.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;

constexpr absl::Duration kWait = absl::Seconds(60);

// The test API server with two backends of service echo, "heavy" in a slice
// annotated jawlb.io/weight=3 and "light" unannotated, and jawlb watching it.
struct Weighted {
  void Start() {
    auto started = KubeApi::Start(KUBEAPI_BINARY, dir, KUBECTL_BINARY);
    ASSERT_THAT(started, IsOk());
    api = *std::move(started);
    for (const char* name : {"heavy", "light"}) {
      auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + backends.size()));
      ASSERT_THAT(backend, IsOk());
      const std::string address = (*backend)->address();
      std::string slice = EndpointSliceJson(absl::StrCat("echo-", name), "echo",
                                            std::stoi(address.substr(address.find(':') + 1)),
                                            {{address.substr(0, address.find(':')), "ready"}});
      if (std::string(name) == "heavy") {
        slice = absl::StrReplaceAll(
            slice, {{R"("metadata":{)", R"("metadata":{"annotations":{"jawlb.io/weight":"3"},)"}});
      }
      ASSERT_THAT(api->Put("endpointslices", slice), IsOk());
      backends.push_back(*std::move(backend));
    }
    auto process =
        JawlbProcess::Start(JAWLB_BINARY, {"JAWLB_SERVICE=echo", "KUBECONFIG=" + api->kubeconfig()},
                            dir + "/jawlb.log");
    ASSERT_THAT(process, IsOk());
    jawlb = *std::move(process);
  }

  const std::string dir = MakeTempDir("weights_test.");
  std::unique_ptr<KubeApi> api;
  std::vector<std::unique_ptr<EchoBackend>> backends;
  std::unique_ptr<JawlbProcess> jawlb;
};

TEST(WeightsTest, AnAnnotatedSliceGetsItsWeightInCalls) {
  Weighted setup;
  ASSERT_NO_FATAL_FAILURE(setup.Start());
  auto& api = setup.api;
  auto& jawlb = setup.jawlb;
  const std::string& dir = setup.dir;
  absl::StatusOr<EchoClient> client = ConnectEchoClient(dir, jawlb->port());
  ASSERT_THAT(client, IsOk());
  std::shared_ptr<grpc::Channel> channel = client->channel;
  ASSERT_THAT(WaitForSpread(channel, {"heavy", "light"}, true, 20, kWait), IsOk());

  // Round robin over [heavy, heavy, light, heavy]: 3 of every 4 calls.
  Spread spread = CallMany(channel, 200);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  EXPECT_NEAR(spread.calls["heavy"], 150, 2) << spread.ToString();
  EXPECT_NEAR(spread.calls["light"], 50, 2) << spread.ToString();

  // The operator evens them out with kubectl.
  ASSERT_THAT(
      api->Kubectl({"annotate", "--overwrite", "endpointslice", "echo-heavy", "jawlb.io/weight=1"}),
      IsOk());
  const absl::Time deadline = absl::Now() + kWait;
  do {
    spread = CallMany(channel, 100);
  } while ((spread.calls["heavy"] != 50 || spread.calls["light"] != 50) && absl::Now() < deadline);
  EXPECT_EQ(spread.calls["heavy"], 50) << spread.ToString();
  EXPECT_EQ(spread.calls["light"], 50) << spread.ToString();
  channel.reset();
  EXPECT_TRUE(ExitedWith(jawlb->process().Stop(SIGTERM, absl::Seconds(60)), 0));
}

// The same weights through xDS (gRPC C++'s xDS client): clients refuse
// duplicate addresses, so a weight becomes a locality's weight; C-core picks
// localities at random by weight, so the split is 3:1 on average.
TEST(WeightsTest, XdsClientsGetTheWeightsAsLocalityWeights) {
  Weighted setup;
  ASSERT_NO_FATAL_FAILURE(setup.Start());
  auto& api = setup.api;
  auto& jawlb = setup.jawlb;
  absl::StatusOr<std::string> bootstrap =
      XdsBootstrap(JAWLB_BINARY, jawlb->port(), "weights-test", "test");
  ASSERT_THAT(bootstrap, IsOk());
  setenv("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap->c_str(), 1);
  auto channel = grpc::CreateChannel("xds:///echo:50051", grpc::InsecureChannelCredentials());
  ASSERT_THAT(WaitForSpread(channel, {"heavy", "light"}, true, 20, kWait), IsOk());
  // 2,000 calls at 3:1: heavy's share 0.75, one standard deviation about 0.01.
  Spread spread = CallMany(channel, 2000);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  EXPECT_NEAR(spread.calls["heavy"] / 2000.0, 0.75, 0.07) << spread.ToString();

  ASSERT_THAT(
      api->Kubectl({"annotate", "--overwrite", "endpointslice", "echo-heavy", "jawlb.io/weight=1"}),
      IsOk());
  const absl::Time deadline = absl::Now() + kWait;
  do {
    spread = CallMany(channel, 1000);
  } while (std::abs(spread.calls["heavy"] / 1000.0 - 0.5) > 0.08 && absl::Now() < deadline);
  EXPECT_NEAR(spread.calls["heavy"] / 1000.0, 0.5, 0.08) << spread.ToString();
  channel.reset();
  EXPECT_TRUE(ExitedWith(jawlb->process().Stop(SIGTERM, absl::Seconds(60)), 0));
}

// The same through grpc-js's xDS client (Node): 3:1 on average over 20
// windows of 30 calls.
TEST(WeightsTest, NodeXdsClientsGetTheWeightsToo) {
  Weighted setup;
  ASSERT_NO_FATAL_FAILURE(setup.Start());
  absl::StatusOr<std::string> bootstrap =
      XdsBootstrap(JAWLB_BINARY, setup.jawlb->port(), "weights-test-node", "test");
  ASSERT_THAT(bootstrap, IsOk());
  const std::string bootstrap_file = setup.dir + "/bootstrap.json";
  std::ofstream(bootstrap_file) << *bootstrap;
  auto node = SpawnWhoami("xds:///echo:50051", bootstrap_file, setup.dir + "/node.log");
  ASSERT_THAT(node, IsOk());
  const int first = WaitForWindow(**node, "heavy,light", 0, kWait);
  ASSERT_GT(first, 0) << (*node)->Output();
  std::map<std::string, int> calls = CallsInWindows(**node, first + 1, first + 20, kWait);
  EXPECT_EQ(calls["(failed)"], 0) << (*node)->Output();
  const int total = calls["heavy"] + calls["light"];
  ASSERT_EQ(total, 600) << (*node)->Output();
  EXPECT_NEAR(calls["heavy"] / 600.0, 0.75, 0.08) << (*node)->Output();
  EXPECT_TRUE(ExitedWith(setup.jawlb->process().Stop(SIGTERM, absl::Seconds(60)), 0));
}

// An EndpointSlice endpoint's zone (set by the EndpointSlice controller from
// its node's topology.kubernetes.io/zone) becomes its locality's zone, and
// the operator sees it on /debug/state; a real xDS client takes the zoned
// assignment and keeps calling both backends.
TEST(WeightsTest, AnEndpointsZoneIsItsLocalitysZone) {
  Weighted setup;
  ASSERT_NO_FATAL_FAILURE(setup.Start());
  const std::string address = setup.backends[1]->address();  // "light"
  const std::string ip = address.substr(0, address.find(':'));
  std::string slice = EndpointSliceJson(
      "echo-light", "echo", std::stoi(address.substr(address.find(':') + 1)), {{ip, "ready"}});
  slice = absl::StrReplaceAll(slice, {{R"("conditions")", R"("zone":"zone-b","conditions")"}});
  ASSERT_THAT(setup.api->Put("endpointslices", slice), IsOk());

  AdsClient ads(setup.jawlb->port(), "zones-test");
  ASSERT_THAT(ads.Subscribe("echo:50051"), IsOk());
  std::string zones;  // "zone/sub_zone:address" of each locality
  const absl::Time deadline = absl::Now() + kWait;
  while (absl::Now() < deadline && !absl::StrContains(zones, "zone-b/")) {
    auto assignment = ads.NextAssignment();
    ASSERT_THAT(assignment, IsOk());
    zones.clear();
    for (const auto& locality : assignment->endpoints()) {
      for (const auto& endpoint : locality.lb_endpoints()) {
        absl::StrAppend(&zones, locality.locality().zone(), "/", locality.locality().sub_zone(),
                        ":", endpoint.endpoint().address().socket_address().address(), " ");
      }
    }
  }
  EXPECT_THAT(zones, ::testing::HasSubstr(absl::StrCat("zone-b/weight-1:", ip)));
  auto state =
      HttpGet(absl::StrCat("http://127.0.0.1:", setup.jawlb->admin_port(), "/debug/state"));
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(state->second, ::testing::HasSubstr(R"("zone":"zone-b")"));

  absl::StatusOr<std::string> bootstrap =
      XdsBootstrap(JAWLB_BINARY, setup.jawlb->port(), "zones-test", "zone-a");
  ASSERT_THAT(bootstrap, IsOk());
  setenv("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap->c_str(), 1);
  auto channel = grpc::CreateChannel("xds:///echo:50051", grpc::InsecureChannelCredentials());
  EXPECT_THAT(WaitForSpread(channel, {"heavy", "light"}, true, 40, kWait), IsOk());
  channel.reset();
  EXPECT_TRUE(ExitedWith(setup.jawlb->process().Stop(SIGTERM, absl::Seconds(60)), 0));
}

}  // namespace
}  // namespace jawlb::testbed
