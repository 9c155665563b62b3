// deploy/ as Kubernetes would take it: rendered by the real `kubectl kustomize`,
// then checked for the things that break a rollout silently: selectors that
// match nothing, a port name the Service or a probe points at that the
// container does not have, RBAC wider than read-only endpoints, no drain time.
#include <map>
#include <set>

#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/subprocess.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;

std::vector<YAML::Node> Render() {
  const std::string dir = MakeTempDir("deploy_test.");
  auto kubectl =
      Subprocess::Spawn({KUBECTL_BINARY, "kustomize", DEPLOY_DIR}, {}, dir + "/out.yaml");
  EXPECT_THAT(kubectl, IsOk());
  if (!kubectl.ok()) return {};
  std::optional<int> status = (*kubectl)->Stop(0, absl::Seconds(60));  // signal 0: just wait
  EXPECT_TRUE(ExitedWith(status, 0)) << (*kubectl)->Output();
  return YAML::LoadAll((*kubectl)->Output());
}

bool Selects(const YAML::Node& selector, const YAML::Node& labels) {
  for (const auto& pair : selector) {
    const std::string key = pair.first.as<std::string>();
    if (!labels[key] || labels[key].as<std::string>() != pair.second.as<std::string>()) {
      return false;
    }
  }
  return selector.size() > 0;
}

TEST(DeployTest, ObjectsFitTogether) {
  std::map<std::string, YAML::Node> by_kind;
  for (const YAML::Node& object : Render()) by_kind[object["kind"].as<std::string>()] = object;
  for (const char* kind :
       {"ServiceAccount", "Role", "RoleBinding", "Deployment", "Service", "PodDisruptionBudget"}) {
    ASSERT_TRUE(by_kind.count(kind)) << "no " << kind;
  }
  const YAML::Node deployment = by_kind["Deployment"];
  const YAML::Node pod = deployment["spec"]["template"];
  const YAML::Node labels = pod["metadata"]["labels"];
  EXPECT_TRUE(Selects(deployment["spec"]["selector"]["matchLabels"], labels));
  EXPECT_TRUE(Selects(by_kind["Service"]["spec"]["selector"], labels));
  EXPECT_TRUE(Selects(by_kind["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"], labels));
  EXPECT_EQ(deployment["spec"]["replicas"].as<int>(), 3);

  // The headless Service's grpclb port (what makes the SRV record) leads to a
  // container port, and so do the probes.
  const YAML::Node container = pod["spec"]["containers"][0];
  std::map<std::string, int> ports;
  for (const YAML::Node& port : container["ports"]) {
    ports[port["name"].as<std::string>()] = port["containerPort"].as<int>();
  }
  const YAML::Node service = by_kind["Service"];
  EXPECT_EQ(service["spec"]["clusterIP"].as<std::string>(), "None");
  ASSERT_EQ(service["spec"]["ports"].size(), 1u);
  EXPECT_EQ(service["spec"]["ports"][0]["name"].as<std::string>(), "grpclb");
  EXPECT_TRUE(ports.count(service["spec"]["ports"][0]["targetPort"].as<std::string>()));
  std::set<int> port_numbers;
  for (const auto& [name, number] : ports) port_numbers.insert(number);
  EXPECT_TRUE(port_numbers.count(container["readinessProbe"]["grpc"]["port"].as<int>()));
  EXPECT_TRUE(port_numbers.count(container["livenessProbe"]["grpc"]["port"].as<int>()));
  EXPECT_EQ(container["livenessProbe"]["grpc"]["service"].as<std::string>(), "jawlb.liveness");
  std::map<std::string, std::string> env;
  for (const YAML::Node& var : container["env"]) {
    env[var["name"].as<std::string>()] = var["value"].as<std::string>();
  }
  EXPECT_EQ(std::to_string(ports["grpclb"]), env["JAWLB_PORT"]);

  // Least privilege.
  EXPECT_TRUE(pod["spec"]["securityContext"]["runAsNonRoot"].as<bool>());
  EXPECT_FALSE(container["securityContext"]["allowPrivilegeEscalation"].as<bool>());
  EXPECT_TRUE(container["securityContext"]["readOnlyRootFilesystem"].as<bool>());
  EXPECT_EQ(pod["spec"]["serviceAccountName"].as<std::string>(),
            by_kind["ServiceAccount"]["metadata"]["name"].as<std::string>());
  for (const YAML::Node& rule : by_kind["Role"]["rules"]) {
    for (const YAML::Node& verb : rule["verbs"]) {
      EXPECT_THAT(verb.as<std::string>(), ::testing::AnyOf("get", "list", "watch"));
    }
    for (const YAML::Node& resource : rule["resources"]) {
      EXPECT_THAT(resource.as<std::string>(), ::testing::AnyOf("endpointslices", "endpoints"));
    }
  }
  const YAML::Node binding = by_kind["RoleBinding"];
  EXPECT_EQ(binding["roleRef"]["name"].as<std::string>(),
            by_kind["Role"]["metadata"]["name"].as<std::string>());
  EXPECT_EQ(binding["subjects"][0]["name"].as<std::string>(),
            by_kind["ServiceAccount"]["metadata"]["name"].as<std::string>());

  // Kubernetes must wait longer than jawlb's own grace period (drain included).
  int grace_seconds = 0;
  ASSERT_TRUE(
      absl::SimpleAtoi(absl::StripSuffix(env["JAWLB_SHUTDOWNGRACEPERIOD"], "s"), &grace_seconds));
  EXPECT_GT(pod["spec"]["terminationGracePeriodSeconds"].as<int>(), grace_seconds);
}

}  // namespace
}  // namespace jawlb::testbed
