// deploy/ and deploy/multi/ as Kubernetes would take them: rendered by the real
// `kubectl kustomize`,
// then checked for the things that break a rollout silently: selectors that
// match nothing, a port name the Service or a probe points at that the
// container does not have, RBAC wider than read-only endpoints, no drain time.
#include <map>
#include <set>

#include <sys/wait.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "routing/service_router.h"
#include "testbed/subprocess.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;

std::vector<YAML::Node> Render(const std::string& path = DEPLOY_DIR) {
  const std::string dir = MakeTempDir("deploy_test.");
  auto kubectl = Subprocess::Spawn({KUBECTL_BINARY, "kustomize", path}, {}, dir + "/out.yaml");
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
  std::map<std::string, YAML::Node> by_kind;  // the first of each kind
  std::map<std::string, YAML::Node> services;
  for (const YAML::Node& object : Render()) {
    by_kind.emplace(object["kind"].as<std::string>(), object);
    if (object["kind"].as<std::string>() == "Service") {
      services[object["metadata"]["name"].as<std::string>()] = object;
    }
  }
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
  const YAML::Node service = services["my-grpc-service-lb"];
  EXPECT_EQ(service["spec"]["clusterIP"].as<std::string>(), "None");
  // xDS clients' bootstrap names a ClusterIP Service on the same port.
  const YAML::Node xds = services["jawlb-xds"];
  ASSERT_TRUE(xds) << "no jawlb-xds Service";
  EXPECT_FALSE(xds["spec"]["clusterIP"]);
  EXPECT_TRUE(Selects(xds["spec"]["selector"], labels));
  EXPECT_EQ(xds["spec"]["ports"][0]["targetPort"].as<std::string>(), "grpclb");
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

TEST(DeployTest, TheMultiServiceOverlayGrantsWhatItServesAndRoutesWhatItNames) {
  std::vector<YAML::Node> objects = Render(std::string(DEPLOY_DIR) + "/multi");
  YAML::Node deployment;
  YAML::Node config_map;
  std::vector<YAML::Node> services;
  std::map<std::string, std::set<std::string>> grants;  // namespace → what binds the SA
  std::string sa_namespace;
  for (const YAML::Node& object : objects) {
    const std::string kind = object["kind"].as<std::string>();
    if (kind == "Deployment") deployment = object;
    if (kind == "ConfigMap") config_map = object;
    // The balancer Services (grpclb); jawlb-xds is what xDS clients' bootstrap names.
    if (kind == "Service" && object["metadata"]["name"].as<std::string>() != "jawlb-xds") {
      services.push_back(object);
    }
    if (kind == "ServiceAccount") sa_namespace = object["metadata"]["namespace"].as<std::string>();
    if (kind == "RoleBinding") {
      for (const YAML::Node& subject : object["subjects"]) {
        grants[object["metadata"]["namespace"].as<std::string>()].insert(
            subject["name"].as<std::string>() + "@" +
            (subject["namespace"] ? subject["namespace"].as<std::string>()
                                  : object["metadata"]["namespace"].as<std::string>()));
      }
    }
  }
  ASSERT_TRUE(deployment) << "no Deployment";
  const YAML::Node pod = deployment["spec"]["template"];
  const YAML::Node container = pod["spec"]["containers"][0];
  std::map<std::string, std::string> env;
  for (const YAML::Node& var : container["env"]) {
    env[var["name"].as<std::string>()] = var["value"].as<std::string>();
  }
  EXPECT_EQ(env["JAWLB_MODE"], "multi");
  EXPECT_FALSE(env.count("JAWLB_SERVICE"));
  // RBAC covers exactly the namespaces jawlb may read.
  std::set<std::string> allowed;
  for (absl::string_view ns : absl::StrSplit(env["JAWLB_NAMESPACES"], ',')) {
    allowed.insert(std::string(ns));
  }
  ASSERT_FALSE(allowed.empty());
  for (const std::string& ns : allowed) {
    EXPECT_TRUE(grants[ns].count("jawlb@" + sa_namespace)) << "no RoleBinding in " << ns;
  }
  // Every balancer Service is headless with a grpclb port, selects the jawlb
  // pods, lives beside them, and names a service jawlb can route.
  absl::StatusOr<std::map<std::string, routing::ServiceRef>> routes =
      routing::ParseRoutes(config_map["data"]["routes.yaml"].as<std::string>());
  ASSERT_THAT(routes, IsOk());
  routing::RouterOptions router_options;
  router_options.default_namespace = sa_namespace;
  router_options.allowed_namespaces = allowed;
  router_options.name_suffix = env["JAWLB_NAMESUFFIX"];
  router_options.routes = *routes;
  const routing::ServiceRouter router(router_options);
  ASSERT_EQ(services.size(), 3u);
  for (const YAML::Node& service : services) {
    const std::string name = service["metadata"]["name"].as<std::string>();
    EXPECT_EQ(service["spec"]["clusterIP"].as<std::string>(), "None") << name;
    EXPECT_EQ(service["spec"]["ports"][0]["name"].as<std::string>(), "grpclb") << name;
    EXPECT_TRUE(Selects(service["spec"]["selector"], pod["metadata"]["labels"])) << name;
    EXPECT_EQ(service["metadata"]["namespace"].as<std::string>(), sa_namespace) << name;
    // What a client dialing it sends: "<name>:8000", or the full name.
    for (const std::string& dialed :
         {name + ":8000", name + "." + sa_namespace + ".svc.cluster.local:8000"}) {
      EXPECT_THAT(router.Route(dialed), IsOk()) << dialed;
    }
  }
  // The routes file is mounted where JAWLB_ROUTES points.
  bool mounted = false;
  for (const YAML::Node& mount : container["volumeMounts"]) {
    mounted =
        mounted || absl::StartsWith(env["JAWLB_ROUTES"], mount["mountPath"].as<std::string>());
  }
  EXPECT_TRUE(mounted) << env["JAWLB_ROUTES"];
}

}  // namespace
}  // namespace jawlb::testbed
