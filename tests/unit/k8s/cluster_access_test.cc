#include "k8s/cluster_access.h"

#include <cstdio>
#include <fstream>

#include <sys/stat.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/subprocess.h"
#include "tests/common/status_matchers.h"

namespace jawlb::k8s {
namespace {

using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::HasSubstr;

const char* NoEnv(const char*) { return nullptr; }

class ClusterAccessTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  const std::string dir_ = testbed::MakeTempDir("cluster_access_test.");
};

constexpr char kConfig[] = R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: dev-cluster
  cluster:
    server: https://dev.example:6443
    certificate-authority: certs/ca.crt
- name: prod-cluster
  cluster:
    server: https://prod.example:443
    certificate-authority-data: LS0tLS1CRUdJTg==
    insecure-skip-tls-verify: true
users:
- name: dev-user
  user:
    token: secret-dev-token
- name: prod-user
  user:
    client-certificate-data: Y2VydA==
    client-key: /keys/prod.key
- name: file-user
  user:
    tokenFile: token
contexts:
- name: dev
  context: {cluster: dev-cluster, user: dev-user, namespace: team-a}
- name: prod
  context: {cluster: prod-cluster, user: prod-user}
- name: rotating
  context: {cluster: dev-cluster, user: file-user}
)";

TEST_F(ClusterAccessTest, CurrentContextWithRelativePathsAndToken) {
  const std::string path = Write("config", kConfig);
  absl::StatusOr<ClusterAccess> access = LoadKubeconfig(path, "", &NoEnv);
  ASSERT_THAT(access, IsOk());
  EXPECT_EQ(access->server, "https://dev.example:6443");
  EXPECT_EQ(access->ca_file, dir_ + "/certs/ca.crt");
  EXPECT_EQ(access->token, "secret-dev-token");
  EXPECT_EQ(access->default_namespace, "team-a");
  EXPECT_FALSE(access->insecure);
  EXPECT_THAT(access->origin, HasSubstr("context dev"));
  EXPECT_THAT(access->origin, ::testing::Not(HasSubstr("secret")));
}

TEST_F(ClusterAccessTest, ContextOverrideDataFieldsAndInsecure) {
  absl::StatusOr<ClusterAccess> access = LoadKubeconfig(Write("config", kConfig), "prod", &NoEnv);
  ASSERT_THAT(access, IsOk());
  EXPECT_EQ(access->server, "https://prod.example:443");
  EXPECT_EQ(access->ca_pem, "-----BEGIN");
  EXPECT_EQ(access->client_cert_pem, "cert");
  EXPECT_EQ(access->client_key_file, "/keys/prod.key");
  EXPECT_TRUE(access->insecure);  // only because the kubeconfig says so
  EXPECT_EQ(access->default_namespace, "");
}

TEST_F(ClusterAccessTest, TokenFileIsReadAndReReadWhenItChanges) {
  const std::string token = Write("token", "first\n");
  absl::StatusOr<ClusterAccess> access =
      LoadKubeconfig(Write("config", kConfig), "rotating", &NoEnv);
  ASSERT_THAT(access, IsOk());
  EXPECT_EQ(access->token_file, token);
  TokenSource tokens(*access);
  EXPECT_EQ(tokens.Current(), "first");
  std::ofstream(token + ".new") << "second";
  std::rename((token + ".new").c_str(), token.c_str());
  EXPECT_EQ(tokens.Current(), "second");
}

TEST_F(ClusterAccessTest, FirstFileWinsAcrossAColonList) {
  const std::string first = Write("first", "current-context: prod\n");
  const std::string second = Write("second", kConfig);
  absl::StatusOr<ClusterAccess> access =
      LoadKubeconfig(first + ":" + dir_ + "/missing:" + second, "", &NoEnv);
  ASSERT_THAT(access, IsOk());
  EXPECT_EQ(access->server, "https://prod.example:443");
}

TEST_F(ClusterAccessTest, RelativeKubeconfigPathResolvesFilesNextToIt) {
  Write("config", kConfig);
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir(dir_.c_str()), 0);
  absl::StatusOr<ClusterAccess> access = LoadKubeconfig("config", "", &NoEnv);
  ASSERT_EQ(chdir(cwd), 0);
  ASSERT_THAT(access, IsOk());
  EXPECT_EQ(access->ca_file, "./certs/ca.crt");
}

TEST_F(ClusterAccessTest, HomeKubeconfigByDefault) {
  ::mkdir((dir_ + "/.kube").c_str(), 0700);
  Write(".kube/config", kConfig);
  const std::string home = dir_;
  absl::StatusOr<ClusterAccess> access = LoadKubeconfig("", "", [&home](const char* name) {
    return std::string(name) == "HOME" ? home.c_str() : nullptr;
  });
  ASSERT_THAT(access, IsOk());
  EXPECT_EQ(access->server, "https://dev.example:6443");
}

TEST_F(ClusterAccessTest, ErrorsNameTheFileAndWhatIsWrong) {
  EXPECT_THAT(LoadKubeconfig(dir_ + "/none", "", &NoEnv),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no kubeconfig found")));
  EXPECT_THAT(LoadKubeconfig(Write("config", kConfig), "staging", &NoEnv),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("context \"staging\" not found")));
  EXPECT_THAT(LoadKubeconfig(Write("bad", "clusters: [oops"), "", &NoEnv),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(dir_ + "/bad")));
  EXPECT_THAT(LoadKubeconfig(Write("nocontext", "kind: Config\n"), "", &NoEnv),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no current-context")));
  EXPECT_THAT(LoadKubeconfig(Write("exec", R"(current-context: c
contexts: [{name: c, context: {cluster: k, user: u}}]
clusters: [{name: k, cluster: {server: "https://x"}}]
users: [{name: u, user: {exec: {command: gke-gcloud-auth-plugin}}}]
)"),
                             "", &NoEnv),
              StatusIs(absl::StatusCode::kUnimplemented, HasSubstr("exec/auth-provider")));
}

TEST_F(ClusterAccessTest, InCluster) {
  Write("token", "sa-token");
  Write("ca.crt", "pem");
  Write("namespace", "prod\n");
  absl::StatusOr<ClusterAccess> access = LoadInCluster("10.96.0.1", "443", dir_);
  ASSERT_THAT(access, IsOk());
  EXPECT_EQ(access->server, "https://10.96.0.1:443");
  EXPECT_EQ(access->token_file, dir_ + "/token");
  EXPECT_EQ(access->ca_file, dir_ + "/ca.crt");
  EXPECT_EQ(access->default_namespace, "prod");
  EXPECT_EQ(LoadInCluster("fd00::1", "6443", dir_)->server, "https://[fd00::1]:6443");
  EXPECT_THAT(
      LoadInCluster("10.96.0.1", "443", dir_ + "/nothing"),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("automountServiceAccountToken")));
}

}  // namespace
}  // namespace jawlb::k8s
