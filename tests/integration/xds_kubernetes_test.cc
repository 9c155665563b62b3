// Both real xDS clients — gRPC C++ (C-core, in this process) and grpc-js with
// grpc-js-xds (Node, a child process) — beside a grpclb client of the same
// service, backends listed by the test Kubernetes API server and health
// checked (JAWLB_HEALTHCHECK=grpc): every client calls the same backends
// through every change (kubectl, a NOT_SERVING backend), and the xDS clients
// keep calling from their cache while jawlb restarts, then follow the new
// process.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/jawlb_process.h"
#include "testbed/kube_api.h"
#include "testbed/subprocess.h"
#include "tests/common/status_matchers.h"
#include "tests/integration/whoami_client.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;

constexpr absl::Duration kWait = absl::Seconds(60);

class XdsKubernetesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto api = KubeApi::Start(KUBEAPI_BINARY, dir_, KUBECTL_BINARY);
    ASSERT_THAT(api, IsOk());
    api_ = *std::move(api);
    for (const char* name : {"alpha", "beta", "gamma"}) {
      auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + backends_.size()));
      ASSERT_THAT(backend, IsOk());
      backends_.push_back(*std::move(backend));
      ASSERT_NO_FATAL_FAILURE(PutSlice(*backends_.back()));
    }
    ASSERT_NO_FATAL_FAILURE(StartJawlb(0));
  }

  void TearDown() override {
    if (jawlb_ != nullptr) {
      EXPECT_TRUE(ExitedWith(jawlb_->process().Stop(SIGTERM, kWait), 0));
    }
  }

  // One slice per backend (each listens on its own port), ready.
  void PutSlice(const EchoBackend& backend) {
    const std::string address = backend.address();
    ASSERT_THAT(api_->Put("endpointslices",
                          EndpointSliceJson(absl::StrCat("echo-", backend.name()), "echo",
                                            std::stoi(address.substr(address.find(':') + 1)),
                                            {{address.substr(0, address.find(':')), "ready"}})),
                IsOk());
  }

  // port 0: a free one.
  void StartJawlb(int port) {
    auto jawlb = JawlbProcess::Start(JAWLB_BINARY,
                                     {"JAWLB_SERVICE=echo", "KUBECONFIG=" + api_->kubeconfig(),
                                      "JAWLB_HEALTHCHECK=grpc", absl::StrCat("JAWLB_PORT=", port)},
                                     absl::StrCat(dir_, "/jawlb-", ++starts_, ".log"));
    ASSERT_THAT(jawlb, IsOk());
    jawlb_ = *std::move(jawlb);
  }

  const std::string dir_ = MakeTempDir("xds_kubernetes_test.");
  std::unique_ptr<KubeApi> api_;
  std::vector<std::unique_ptr<EchoBackend>> backends_;
  std::unique_ptr<JawlbProcess> jawlb_;
  int starts_ = 0;
};

TEST_F(XdsKubernetesTest, EveryClientFollowsTheSameBackendsThroughEveryChange) {
  absl::StatusOr<std::string> bootstrap =
      XdsBootstrap(JAWLB_BINARY, jawlb_->port(), "xds-kubernetes-test", "test");
  ASSERT_THAT(bootstrap, IsOk());
  setenv("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap->c_str(), 1);
  const std::string bootstrap_file = dir_ + "/bootstrap.json";
  std::ofstream(bootstrap_file) << *bootstrap;
  auto cpp = grpc::CreateChannel("xds:///echo:50051", grpc::InsecureChannelCredentials());
  absl::StatusOr<EchoClient> grpclb = ConnectEchoClient(dir_, jawlb_->port());
  ASSERT_THAT(grpclb, IsOk());
  auto spawned = SpawnWhoami("xds:///echo:50051", bootstrap_file, dir_ + "/node.log");
  ASSERT_THAT(spawned, IsOk());
  Subprocess& node = **spawned;
  int window = 0;
  // Every client on exactly these backends, with no failed call.
  auto expect_all_on = [&](const std::vector<std::string>& names) {
    ASSERT_THAT(WaitForSpread(cpp, {names.begin(), names.end()}, true, 30, kWait), IsOk())
        << "C++ xDS";
    ASSERT_THAT(WaitForSpread(grpclb->channel, {names.begin(), names.end()}, true, 30, kWait),
                IsOk())
        << "grpclb";
    window = WaitForWindow(node, absl::StrJoin(names, ","), window, kWait);
    ASSERT_GT(window, 0) << node.Output();
  };

  ASSERT_NO_FATAL_FAILURE(expect_all_on({"alpha", "beta", "gamma"}));
  // A change with kubectl.
  ASSERT_THAT(api_->Kubectl({"delete", "endpointslice", "echo-gamma"}), IsOk());
  ASSERT_NO_FATAL_FAILURE(expect_all_on({"alpha", "beta"}));
  // beta says NOT_SERVING while Kubernetes still lists it: out for everyone.
  backends_[1]->SetServing(false);
  ASSERT_NO_FATAL_FAILURE(expect_all_on({"alpha"}));
  backends_[1]->SetServing(true);
  ASSERT_NO_FATAL_FAILURE(expect_all_on({"alpha", "beta"}));

  // jawlb restarts on the same port: the xDS clients call on from their
  // cache while it is away (the grpclb client too, from its last list), then
  // follow the new process's lists.
  const int port = jawlb_->port();
  ASSERT_TRUE(ExitedWith(jawlb_->process().Stop(SIGTERM, kWait), 0));
  jawlb_.reset();
  const Spread away = CallMany(cpp, 60);
  EXPECT_EQ(away.failures, 0) << away.ToString();
  window = WaitForWindow(node, "alpha,beta", window, kWait);
  ASSERT_GT(window, 0) << node.Output();
  ASSERT_NO_FATAL_FAILURE(StartJawlb(port));
  ASSERT_NO_FATAL_FAILURE(PutSlice(*backends_[2]));
  ASSERT_NO_FATAL_FAILURE(expect_all_on({"alpha", "beta", "gamma"}));
  // Not one failed call at the Node client through all of it.
  EXPECT_THAT(node.Output(), ::testing::Not(::testing::ContainsRegex("failed=[1-9]")))
      << node.Output();
}

}  // namespace
}  // namespace jawlb::testbed
