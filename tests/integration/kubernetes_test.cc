// Kubernetes discovery end to end: the test API server (tests/kubeapi), the
// real jawlb binary watching it, and a grpclb client's view of what jawlb sends:
// every ServerList a BalanceLoad stream receives is recorded, so each test can
// assert the exact sequence of lists: no partial list, no empty list, no list
// twice in a row, and the right list within a bounded time after a fault.
#include <fstream>
#include <map>
#include <thread>

#include <arpa/inet.h>
#include <signal.h>
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpc/lb/v1/load_balancer.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/kube_api.h"
#include "testbed/tls_files.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using grpc::lb::v1::LoadBalanceRequest;
using grpc::lb::v1::LoadBalanceResponse;
using ::jawlb::testing::IsOk;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kSettle = absl::Seconds(60);
constexpr char kDrop[] = "drop";

// A grpclb client's view: every list received on one BalanceLoad stream, as
// "10.0.0.1:50051,10.0.0.2:50051" (servers in the order sent) or "drop".
class ListObserver {
 public:
  // `credentials`: TLS ones (for a jawlb whose certificate names jawlb.test),
  // or null for plaintext.
  explicit ListObserver(int port, std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("jawlb.test");
    channel_ = grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port),
        credentials != nullptr ? std::move(credentials) : grpc::InsecureChannelCredentials(), args);
    stub_ = grpc::lb::v1::LoadBalancer::NewStub(channel_);
    stream_ = stub_->BalanceLoad(&context_);
    LoadBalanceRequest initial;
    initial.mutable_initial_request()->set_name("echo.default.svc.cluster.local:50051");
    stream_->Write(initial);
    reader_ = std::thread([this] { Read(); });
  }
  ~ListObserver() {
    context_.TryCancel();
    reader_.join();
  }

  // Waits until the newest list is `expected`.
  bool WaitFor(const std::string& expected) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, &expected]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !lists_.empty() && lists_.back() == expected;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kSettle);
  }
  std::vector<std::string> Lists() {
    absl::MutexLock lock(&mu_);
    return lists_;
  }

 private:
  void Read() {
    LoadBalanceResponse response;
    while (stream_->Read(&response)) {
      if (!response.has_server_list()) continue;
      std::vector<std::string> servers;
      for (const auto& server : response.server_list().servers()) {
        if (server.drop()) {
          servers.push_back(kDrop);
          continue;
        }
        char text[INET6_ADDRSTRLEN] = {};
        inet_ntop(server.ip_address().size() == 4 ? AF_INET : AF_INET6, server.ip_address().data(),
                  text, sizeof(text));
        servers.push_back(absl::StrCat(text, ":", server.port()));
      }
      absl::MutexLock lock(&mu_);
      lists_.push_back(absl::StrJoin(servers, ","));
    }
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::lb::v1::LoadBalancer::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<LoadBalanceRequest, LoadBalanceResponse>> stream_;
  std::thread reader_;
  absl::Mutex mu_;
  std::vector<std::string> lists_ ABSL_GUARDED_BY(mu_);
};

std::string Slice(const std::string& name, std::vector<std::pair<std::string, std::string>> eps,
                  const std::string& service = "echo") {
  return EndpointSliceJson(name, service, 50051, eps);
}

class KubernetesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto api = KubeApi::Start(KUBEAPI_BINARY, dir_, KUBECTL_BINARY);
    ASSERT_THAT(api, IsOk());
    api_ = *std::move(api);
  }

  void TearDown() override {
    observer_.reset();
    if (jawlb_ != nullptr) {
      std::optional<int> status = jawlb_->process().Stop(SIGTERM, kSettle);
      EXPECT_TRUE(ExitedWith(status, 0)) << jawlb_->process().Output();
    }
  }

  // Starts jawlb watching service "echo" and a client observing it.
  void StartJawlb(std::vector<std::string> env = {},
                  std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr) {
    env.push_back("JAWLB_SERVICE=echo");
    env.push_back("JAWLB_WATCHSTALLTIMEOUT=2s");
    env.push_back("JAWLB_LOGLEVEL=debug");
    bool has_kubeconfig = false;
    for (const std::string& var : env) has_kubeconfig |= var.rfind("KUBECONFIG=", 0) == 0;
    if (!has_kubeconfig) env.push_back("KUBECONFIG=" + api_->kubeconfig());
    auto jawlb = JawlbProcess::Start(JAWLB_BINARY, env, dir_ + "/jawlb.log");
    ASSERT_THAT(jawlb, IsOk());
    jawlb_ = *std::move(jawlb);
    observer_ = std::make_unique<ListObserver>(jawlb_->port(), std::move(credentials));
  }

  // Applies `slice` and waits until the client has `expected`.
  void ExpectAfter(const std::string& slice, const std::string& expected) {
    ASSERT_THAT(api_->Put("endpointslices", slice), IsOk());
    ASSERT_TRUE(observer_->WaitFor(expected))
        << "wanted " << expected << ", got " << absl::StrJoin(observer_->Lists(), " | ")
        << "\njawlb:\n"
        << jawlb_->process().Output();
  }

  const std::string dir_ = MakeTempDir("kubernetes_test.");
  std::unique_ptr<KubeApi> api_;
  std::unique_ptr<JawlbProcess> jawlb_;
  std::unique_ptr<ListObserver> observer_;
};

TEST_F(KubernetesTest, FollowsEndpointSlices) {
  ASSERT_THAT(
      api_->Put("endpointslices", Slice("echo-a", {{"10.0.0.1", "ready"}, {"10.0.0.2", "ready"}})),
      IsOk());
  StartJawlb();
  ASSERT_TRUE(observer_->WaitFor("10.0.0.1:50051,10.0.0.2:50051"));
  // A second slice adds its endpoints; an address in both counts once.
  ExpectAfter(Slice("echo-b", {{"10.0.0.3", "ready"}, {"10.0.0.1", "ready"}}),
              "10.0.0.1:50051,10.0.0.2:50051,10.0.0.3:50051");
  // Another service's slice changes nothing (the next list proves it was skipped).
  ASSERT_THAT(api_->Put("endpointslices", Slice("other-a", {{"10.9.9.9", "ready"}}, "other")),
              IsOk());
  ExpectAfter(Slice("echo-a", {{"10.0.0.1", "ready"}, {"10.0.0.2", "notready"}}),
              "10.0.0.1:50051,10.0.0.3:50051");
  ExpectAfter(Slice("echo-b", {{"10.0.0.3", "terminating"}, {"10.0.0.1", "ready"}}),
              "10.0.0.1:50051");
  // Deleting a slice removes exactly its endpoints: 10.0.0.1 is still in echo-b.
  ASSERT_THAT(api_->Delete("endpointslices", "echo-a"), IsOk());
  ExpectAfter(Slice("echo-b", {{"10.0.0.1", "ready"}, {"10.0.0.4", "ready"}}),
              "10.0.0.1:50051,10.0.0.4:50051");
  // Zero endpoints: the "no backends" drop list, never an empty one; and back.
  ASSERT_THAT(api_->Delete("endpointslices", "echo-b"), IsOk());
  ASSERT_TRUE(observer_->WaitFor(kDrop));
  ExpectAfter(Slice("echo-a", {{"10.0.0.5", "ready"}}), "10.0.0.5:50051");

  EXPECT_THAT(
      observer_->Lists(),
      ElementsAre("10.0.0.1:50051,10.0.0.2:50051", "10.0.0.1:50051,10.0.0.2:50051,10.0.0.3:50051",
                  "10.0.0.1:50051,10.0.0.3:50051", "10.0.0.1:50051",
                  "10.0.0.1:50051,10.0.0.4:50051", kDrop, "10.0.0.5:50051"));
}

TEST_F(KubernetesTest, NoListUntilTheFirstCompleteList) {
  ASSERT_THAT(api_->Put("endpointslices", Slice("echo-a", {{"10.0.0.1", "ready"}})), IsOk());
  ASSERT_THAT(api_->Put("endpointslices", Slice("echo-b", {{"10.0.0.2", "ready"}})), IsOk());
  // The first lists fail: clients must get nothing until one succeeds.
  ASSERT_THAT(api_->Control("/fault/status?code=500&count=3&path=endpointslices"), IsOk());
  StartJawlb();
  ASSERT_TRUE(observer_->WaitFor("10.0.0.1:50051,10.0.0.2:50051"));
  EXPECT_THAT(observer_->Lists(), ElementsAre("10.0.0.1:50051,10.0.0.2:50051"));
}

// Every fault the API server can throw: the client keeps its list throughout
// and gets the next change within a bounded time after.
TEST_F(KubernetesTest, EveryFaultKeepsTheListAndRecovers) {
  ASSERT_THAT(api_->Put("endpointslices", Slice("echo-a", {{"10.0.0.1", "ready"}})), IsOk());
  StartJawlb();
  ASSERT_TRUE(observer_->WaitFor("10.0.0.1:50051"));
  std::vector<std::string> expected = {"10.0.0.1:50051"};
  int next = 2;
  for (const char* fault : {"/fault/drop", "/fault/stall", "/fault/garbage", "/fault/expire",
                            "/fault/status?code=500&count=3&path=endpointslices",
                            "/fault/status?code=429&count=1&retryAfter=1&path=endpointslices",
                            "/fault/status?code=503&count=2&retryAfter=1&path=endpointslices"}) {
    SCOPED_TRACE(fault);
    ASSERT_THAT(api_->Control(fault), IsOk());
    if (absl::StrContains(fault, "status")) {
      ASSERT_THAT(api_->Control("/fault/drop"), IsOk());
    }
    const std::string address = absl::StrCat("10.0.0.", next++);
    const std::string list = absl::StrCat("10.0.0.1:50051,", address, ":50051");
    ExpectAfter(Slice("echo-b", {{address, "ready"}}), list);
    expected.push_back(list);
  }
  EXPECT_THAT(observer_->Lists(), ElementsAreArray(expected));
  EXPECT_GE(*api_->Stat("lists"), 2);  // /fault/expire made it re-list
}

// While the watch is down, a slice is deleted and another added, and the
// history is compacted: the resume gets 410, the re-list replaces the state, and
// the deleted slice's endpoints are gone (client-go's Replace).
TEST_F(KubernetesTest, ReListAfterGapDropsWhatVanished) {
  ASSERT_THAT(api_->Put("endpointslices", Slice("echo-a", {{"10.0.0.1", "ready"}})), IsOk());
  ASSERT_THAT(api_->Put("endpointslices", Slice("echo-b", {{"10.0.0.2", "ready"}})), IsOk());
  StartJawlb();
  ASSERT_TRUE(observer_->WaitFor("10.0.0.1:50051,10.0.0.2:50051"));
  const int lists = *api_->Stat("lists");
  ASSERT_THAT(api_->Control("/fault/stall"), IsOk());
  ASSERT_THAT(api_->Delete("endpointslices", "echo-b"), IsOk());
  ASSERT_THAT(api_->Put("endpointslices", Slice("echo-c", {{"10.0.0.3", "ready"}})), IsOk());
  ASSERT_THAT(api_->Control("/fault/compact"), IsOk());
  ASSERT_TRUE(observer_->WaitFor("10.0.0.1:50051,10.0.0.3:50051"))
      << absl::StrJoin(observer_->Lists(), " | ") << "\n"
      << jawlb_->process().Output();
  EXPECT_THAT(observer_->Lists(),
              ElementsAre("10.0.0.1:50051,10.0.0.2:50051", "10.0.0.1:50051,10.0.0.3:50051"));
  EXPECT_EQ(*api_->Stat("lists"), lists + 1);
}

TEST_F(KubernetesTest, FallsBackToEndpointsWithoutEndpointSlices) {
  ASSERT_THAT(api_->Control("/slices?enabled=0"), IsOk());
  ASSERT_THAT(api_->Put("endpoints", R"({"metadata":{"name":"echo"},"subsets":[
      {"addresses":[{"ip":"10.0.0.1"}],"notReadyAddresses":[{"ip":"10.0.0.9"}],
       "ports":[{"name":"grpc","port":50051}]}]})"),
              IsOk());
  ASSERT_THAT(api_->Put("endpoints", R"({"metadata":{"name":"other"},"subsets":[
      {"addresses":[{"ip":"10.0.0.7"}],"ports":[{"name":"grpc","port":50051}]}]})"),
              IsOk());
  StartJawlb();
  ASSERT_TRUE(observer_->WaitFor("10.0.0.1:50051"));
  ASSERT_THAT(api_->Put("endpoints", R"({"metadata":{"name":"echo"},"subsets":[
      {"addresses":[{"ip":"10.0.0.1"},{"ip":"10.0.0.9"}],"ports":[{"name":"grpc","port":50051}]}]})"),
              IsOk());
  ASSERT_TRUE(observer_->WaitFor("10.0.0.1:50051,10.0.0.9:50051"));
  EXPECT_THAT(jawlb_->process().Output(), ::testing::HasSubstr("watching Endpoints"));
}

// Bound service account tokens rotate: jawlb re-reads its token file, so when
// the API server stops accepting the old token the list goes on without a gap.
TEST_F(KubernetesTest, TokenRotationLeavesNoGap) {
  const std::string token_file = dir_ + "/rotating-token";
  std::ofstream(token_file) << "token-1";
  std::ofstream(dir_ + "/rotating-kubeconfig") << absl::StrCat(
      "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ", api_->url(),
      "\n    certificate-authority: ", dir_,
      "/ca.crt\nusers:\n- name: u\n  user:\n    tokenFile: ", token_file,
      "\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
  ASSERT_THAT(api_->Control("/tokens?set=token-1"), IsOk());
  ASSERT_THAT(api_->Put("endpointslices", Slice("echo-a", {{"10.0.0.1", "ready"}})), IsOk());
  StartJawlb({"KUBECONFIG=" + dir_ + "/rotating-kubeconfig"});
  ASSERT_TRUE(observer_->WaitFor("10.0.0.1:50051"));

  // The kubelet writes the new token; the API server then refuses the old one
  // and ends the old watch.
  std::ofstream(token_file + ".new") << "token-2";
  std::rename((token_file + ".new").c_str(), token_file.c_str());
  ASSERT_THAT(api_->Control("/tokens?set=token-2"), IsOk());
  ASSERT_THAT(api_->Control("/fault/drop"), IsOk());
  ExpectAfter(Slice("echo-b", {{"10.0.0.2", "ready"}}), "10.0.0.1:50051,10.0.0.2:50051");
  EXPECT_THAT(observer_->Lists(), ElementsAre("10.0.0.1:50051", "10.0.0.1:50051,10.0.0.2:50051"));
  EXPECT_EQ(jawlb_->process().Output().find("token-"), std::string::npos) << "a token was logged";
}

// Secrets never leave jawlb: the API server token, the gRPC port's private key
// and a client's certificate appear in no log line (debug level, through an
// unauthorized spell, faults and refused handshakes), no /debug/state, no
// /metrics and no status page.
TEST_F(KubernetesTest, NoSecretLeavesJawlb) {
  const std::string token = absl::StrCat("s3cret-", absl::ToUnixNanos(absl::Now()));
  std::ofstream(dir_ + "/secret-kubeconfig") << absl::StrCat(
      "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: ", api_->url(),
      "\n    certificate-authority: ", dir_,
      "/ca.crt\nusers:\n- name: u\n  user:\n    token: ", token,
      "\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n");
  ASSERT_THAT(api_->Control("/tokens?set=" + token), IsOk());
  ASSERT_THAT(api_->Put("endpointslices", Slice("echo-a", {{"10.0.0.1", "ready"}})), IsOk());
  const std::string tls_dir = dir_ + "/tls";  // not dir_: the API server's ca.crt is there
  ASSERT_EQ(mkdir(tls_dir.c_str(), 0700), 0);
  absl::StatusOr<TlsFiles> pki = MakeTlsFiles(tls_dir, {"jawlb.test"});
  ASSERT_THAT(pki, IsOk());
  std::vector<std::string> env = {"KUBECONFIG=" + dir_ + "/secret-kubeconfig"};
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (OnH2Transport()) {  // TLS is served by jawlb's HTTP/2 server
    env.insert(env.end(), {"JAWLB_TLSCERT=" + pki->cert, "JAWLB_TLSKEY=" + pki->key,
                           "JAWLB_TLSCLIENTCA=" + pki->ca});
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadWholeFile(pki->ca);
    options.pem_cert_chain = ReadWholeFile(pki->client_cert);
    options.pem_private_key = ReadWholeFile(pki->client_key);
    credentials = grpc::SslCredentials(options);
  }
  StartJawlb(env, credentials);
  ASSERT_TRUE(observer_->WaitFor("10.0.0.1:50051"));

  // The API server stops taking the token for a while (401s, retried), and
  // faults; a plaintext client knocks on the TLS port.
  ASSERT_THAT(api_->Control("/tokens?set=another"), IsOk());
  ASSERT_THAT(api_->Control("/fault/drop"), IsOk());
  ASSERT_THAT(jawlb_->process().WaitForLine("401", kSettle), IsOk());
  ListObserver plaintext(jawlb_->port());
  ASSERT_THAT(api_->Control("/tokens?set=" + token), IsOk());
  ASSERT_THAT(api_->Control("/fault/garbage"), IsOk());
  ExpectAfter(Slice("echo-b", {{"10.0.0.2", "ready"}}), "10.0.0.1:50051,10.0.0.2:50051");

  // Every output of the run.
  const std::string admin = absl::StrCat("http://127.0.0.1:", jawlb_->admin_port());
  std::string outputs = jawlb_->process().Output();
  for (const char* path : {"/debug/state", "/metrics", "/", "/readyz", "/healthz"}) {
    auto got = HttpGet(admin + path);
    ASSERT_THAT(got, IsOk());
    absl::StrAppend(&outputs, got->second);
  }
  EXPECT_THAT(outputs, HasSubstr("10.0.0.2"));  // the outputs are there
  EXPECT_THAT(outputs, Not(HasSubstr(token)));
  EXPECT_THAT(outputs, Not(HasSubstr("PRIVATE KEY")));
  EXPECT_THAT(outputs, Not(HasSubstr("BEGIN CERTIFICATE")));
  // No line of a key's or certificate's base64 either.
  for (const std::string& file : {pki->key, pki->client_key, pki->client_cert, pki->cert}) {
    for (absl::string_view line : absl::StrSplit(ReadWholeFile(file), '\n')) {
      if (line.size() < 40 || absl::StartsWith(line, "-----")) continue;
      EXPECT_THAT(outputs, Not(HasSubstr(std::string(line)))) << file;
    }
  }
}

// The test API server's fidelity, judged by the real kubectl: create, replace,
// get, get --watch and delete of an EndpointSlice, and a NotFound error.
TEST_F(KubernetesTest, KubectlAcceptsTheTestApiServer) {
  const std::string file = dir_ + "/slice.json";
  std::ofstream(file) << Slice("echo-k", {{"10.0.0.1", "ready"}});
  auto watcher =
      Subprocess::Spawn({KUBECTL_BINARY, "get", "endpointslices", "--watch", "-o", "name"},
                        {"KUBECONFIG=" + api_->kubeconfig()}, dir_ + "/kubectl-watch.log");
  ASSERT_THAT(watcher, IsOk());
  ASSERT_THAT(api_->Kubectl({"create", "-f", file}), IsOk());
  absl::StatusOr<std::string> got = api_->Kubectl({"get", "endpointslices", "-o", "json"});
  ASSERT_THAT(got, IsOk());
  EXPECT_THAT(*got, ::testing::HasSubstr("\"10.0.0.1\""));
  std::ofstream(file) << Slice("echo-k", {{"10.0.0.1", "ready"}, {"10.0.0.2", "ready"}});
  ASSERT_THAT(api_->Kubectl({"replace", "-f", file}), IsOk());
  got = api_->Kubectl(
      {"get", "endpointslice", "echo-k", "-o", "jsonpath={.endpoints[*].addresses[0]}"});
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(*got, "10.0.0.1 10.0.0.2");
  ASSERT_THAT(api_->Kubectl({"delete", "endpointslice", "echo-k"}), IsOk());
  EXPECT_THAT(api_->Kubectl({"get", "endpointslice", "echo-k"}),
              ::jawlb::testing::StatusIs(absl::StatusCode::kFailedPrecondition,
                                         ::testing::HasSubstr("NotFound")));
  // The watch saw the slice come, change and go (kubectl prints a line per event).
  EXPECT_THAT((*watcher)->WaitForLine("endpointslice.discovery.k8s.io/echo-k", kSettle, 3), IsOk());
}

// The whole path, as in a cluster: kubectl changes EndpointSlices on the API
// server, jawlb watches them, and gRPC C++'s own grpclb policy (finding jawlb
// through the _grpclb._tcp SRV record) moves its RPCs accordingly.
TEST_F(KubernetesTest, GrpclbClientFollowsKubectlChanges) {
  std::map<std::string, std::unique_ptr<EchoBackend>> backends;
  int i = 0;
  for (const char* name : {"alpha", "beta", "gamma"}) {
    auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + i++));
    ASSERT_THAT(backend, IsOk());
    backends[name] = *std::move(backend);
  }
  // kubectl create/replace -f with one slice per backend (each has its own port).
  auto apply = [&](const std::string& verb, const std::string& name, const std::string& state) {
    const EchoBackend& backend = *backends[name];
    const std::string address = backend.address();
    const size_t colon = address.rfind(':');
    const std::string file = absl::StrCat(dir_, "/", name, ".json");
    std::ofstream(file) << EndpointSliceJson(absl::StrCat("echo-", name), "echo",
                                             std::stoi(address.substr(colon + 1)),
                                             {{address.substr(0, colon), state}});
    ASSERT_THAT(api_->Kubectl({verb, "-f", file}), IsOk());
  };
  apply("create", "alpha", "ready");
  apply("create", "beta", "ready");
  StartJawlb();
  DnsServer::Records records;
  records.a = {{"jawlb.test", "127.0.0.1"}, {"echo.test", "127.0.0.1"}};
  records.grpclb = {{"echo.test", "jawlb.test", jawlb_->port()}};
  auto dns = DnsServer::Start(records, dir_);
  ASSERT_THAT(dns, IsOk());
  absl::StatusOr<int> unused = PickFreePort("127.0.0.1");
  ASSERT_THAT(unused, IsOk());
  auto channel = MakeGrpclbChannel((*dns)->address(), absl::StrCat("echo.test:", *unused));

  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta"}, true, 30, kSettle), IsOk());
  apply("create", "gamma", "ready");  // a pod becomes ready
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kSettle), IsOk());
  apply("replace", "beta", "notready");  // fails its readiness probe
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "gamma"}, true, 30, kSettle), IsOk());
  const int64_t beta_calls = backends["beta"]->calls();
  apply("replace", "gamma", "terminating");  // being deleted
  ASSERT_THAT(WaitForSpread(channel, {"alpha"}, true, 30, kSettle), IsOk());
  EXPECT_EQ(backends["beta"]->calls(), beta_calls);
  // Scale to zero: every slice gone, RPCs fail fast, no backend is called.
  for (const char* name : {"alpha", "beta", "gamma"}) {
    ASSERT_THAT(api_->Kubectl({"delete", "endpointslice", absl::StrCat("echo-", name)}), IsOk());
  }
  const absl::Time deadline = absl::Now() + kSettle;
  while (CallMany(channel, 1).failures == 0 && absl::Now() < deadline) {
  }
  int64_t total = 0;
  for (const auto& [name, backend] : backends) total += backend->calls();
  const Spread none = CallMany(channel, 10);
  EXPECT_EQ(none.failures, 10) << none.ToString();
  int64_t after = 0;
  for (const auto& [name, backend] : backends) after += backend->calls();
  EXPECT_EQ(after, total);
  // And back up.
  apply("create", "alpha", "ready");
  apply("create", "beta", "ready");
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta"}, true, 30, kSettle), IsOk());
}

}  // namespace
}  // namespace jawlb::testbed
