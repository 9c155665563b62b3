// Operating jawlb: gRPC health and reflection, the drain on SIGTERM, maximum
// connection age, and a rolling restart under a real grpclb client.
#include <atomic>
#include <fstream>
#include <thread>

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/lb/v1/load_balancer.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include <simdjson.h>

#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/kube_api.h"
#include "testbed/lb_stream.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(60);

std::shared_ptr<grpc::Channel> Connect(int port) {
  return grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
}

HealthCheckResponse::ServingStatus Check(const std::shared_ptr<grpc::Channel>& channel,
                                         const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  const grpc::Status status = stub->Check(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.status();
}

// Health follows readiness: NOT_SERVING until the first complete list,
// SERVING then, NOT_SERVING as soon as the drain starts; during the drain delay
// new BalanceLoad streams are still served; then streams end and jawlb exits 0.
// jawlb watching a test API server that refuses its token at first (so there is
// no list yet), with a 2 s drain.
class ListingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto api = KubeApi::Start(KUBEAPI_BINARY, dir_, KUBECTL_BINARY);
    ASSERT_THAT(api, IsOk());
    api_ = *std::move(api);
    ASSERT_THAT(api_->Put("endpointslices",
                          EndpointSliceJson("echo-a", "echo", 50051, {{"10.0.0.1", "ready"}})),
                IsOk());
    ASSERT_THAT(api_->Control("/tokens?set=not-yet"), IsOk());  // lists fail with 401
    auto jawlb = JawlbProcess::Start(
        JAWLB_BINARY,
        {"JAWLB_SERVICE=echo", "KUBECONFIG=" + api_->kubeconfig(), "JAWLB_DRAINDELAY=2s"},
        dir_ + "/jawlb.log");
    ASSERT_THAT(jawlb, IsOk());
    jawlb_ = *std::move(jawlb);
  }
  // The API server accepts jawlb's token from now on.
  void AcceptToken() { ASSERT_THAT(api_->Control("/tokens?set=jawlb-test-token"), IsOk()); }

  const std::string dir_ = MakeTempDir("operations_test.");
  std::unique_ptr<KubeApi> api_;
  std::unique_ptr<JawlbProcess> jawlb_;
};

TEST_F(ListingTest, HealthFollowsTheFirstListAndTheDrain) {
  auto channel = Connect(jawlb_->port());
  EXPECT_EQ(Check(channel, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(channel, "grpc.lb.v1.LoadBalancer"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(channel, "jawlb.liveness"), HealthCheckResponse::SERVING);  // alive all along

  // Watch records every status it is sent.
  absl::Mutex mu;
  std::vector<std::string> events;  // "health:SERVING", "lb:ended"...
  auto record = [&](std::string event) {
    absl::MutexLock lock(&mu);
    events.push_back(std::move(event));
  };
  auto wait_for = [&](const std::string& event) {
    absl::MutexLock lock(&mu);
    auto seen = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
      return std::find(events.begin(), events.end(), event) != events.end();
    };
    return mu.AwaitWithTimeout(absl::Condition(&seen), kWait);
  };
  auto health_stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext watch_context;
  HealthCheckRequest watch_request;
  auto watch = health_stub->Watch(&watch_context, watch_request);
  std::thread watcher([&] {
    HealthCheckResponse response;
    while (watch->Read(&response)) {
      record(absl::StrCat("health:", HealthCheckResponse::ServingStatus_Name(response.status())));
    }
  });

  AcceptToken();
  ASSERT_TRUE(wait_for("health:SERVING")) << jawlb_->process().Output();
  EXPECT_EQ(Check(channel, "grpc.lb.v1.LoadBalancer"), HealthCheckResponse::SERVING);

  // A client connected before the drain.
  LbStream lb(jawlb_->port(), {}, "echo:50051");
  grpc::lb::v1::LoadBalanceResponse response;
  ASSERT_TRUE(lb.ReadList(&response));
  std::thread lb_reader([&] {
    grpc::lb::v1::LoadBalanceResponse ignored;
    while (lb.rw->Read(&ignored)) {
    }
    record(absl::StrCat("lb:ended:", lb.rw->Finish().error_code()));
  });

  kill(jawlb_->process().pid(), SIGTERM);
  ASSERT_TRUE(wait_for("health:NOT_SERVING"));
  {
    // Still draining: a new stream is accepted and gets the list.
    LbStream late(jawlb_->port(), {}, "echo:50051");
    grpc::lb::v1::LoadBalanceResponse got;
    ASSERT_TRUE(late.rw->Read(&got));
    EXPECT_TRUE(got.has_initial_response());
    ASSERT_TRUE(late.rw->Read(&got));
    EXPECT_TRUE(got.has_server_list());
    late.context.TryCancel();
  }
  ASSERT_TRUE(wait_for("lb:ended:14"));  // UNAVAILABLE: reconnect elsewhere
  EXPECT_TRUE(ExitedWith(jawlb_->process().Stop(SIGTERM, kWait), 0)) << jawlb_->process().Output();
  lb_reader.join();
  watcher.join();
  absl::MutexLock lock(&mu);
  const auto not_serving = std::find(events.begin(), events.end(), "health:NOT_SERVING");
  const auto ended = std::find(events.begin(), events.end(), "lb:ended:14");
  EXPECT_LT(not_serving, ended) << "streams ended before health said NOT_SERVING";
}

// The admin listener: /readyz with its reason, /healthz, /debug/state (JSON,
// parsed) and the state page, following the first list, a client and the drain.
TEST_F(ListingTest, AdminPagesShowReadinessListAndClients) {
  const std::string admin = absl::StrCat("http://127.0.0.1:", jawlb_->admin_port());
  auto get = [&admin](const std::string& path) {
    absl::StatusOr<std::pair<int, std::string>> got = HttpGet(admin + path);
    EXPECT_THAT(got, IsOk());
    return got.value_or(std::make_pair(0, std::string()));
  };
  auto wait_for_status = [&get](const std::string& path, int status) {
    const absl::Time deadline = absl::Now() + kWait;
    while (get(path).first != status && absl::Now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return get(path).first == status;
  };

  auto [not_ready, reason] = get("/readyz");
  EXPECT_EQ(not_ready, 503);
  EXPECT_THAT(reason, HasSubstr("no complete backend list"));
  EXPECT_EQ(get("/healthz").first, 200);  // alive while the API server refuses us

  AcceptToken();
  ASSERT_TRUE(wait_for_status("/readyz", 200));

  LbStream lb(jawlb_->port(), {}, "echo.prod:50051");
  grpc::lb::v1::LoadBalanceResponse response;
  ASSERT_TRUE(lb.ReadList(&response));

  const auto [code, state] = get("/debug/state");
  EXPECT_EQ(code, 200);
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(state).get(root), simdjson::SUCCESS) << state;
  EXPECT_EQ(bool(root["ready"]), true) << state;
  EXPECT_EQ(uint64_t(root["list"]["version"]), 1u) << state;
  EXPECT_EQ(std::string_view(root["list"]["backends"].at(0)), "10.0.0.1:50051") << state;
  simdjson::dom::array clients = root["clients"];
  ASSERT_EQ(clients.size(), 1u) << state;
  EXPECT_EQ(std::string_view(clients.at(0)["name"]), "echo.prod:50051");
  EXPECT_EQ(uint64_t(clients.at(0)["list_version"]), 1u);
  EXPECT_THAT(std::string(std::string_view(root["source"])), HasSubstr("default/echo"));
  const auto [page_code, page] = get("/");
  EXPECT_EQ(page_code, 200);
  EXPECT_THAT(page, HasSubstr("echo.prod:50051"));
  EXPECT_THAT(page, HasSubstr("10.0.0.1:50051"));

  kill(jawlb_->process().pid(), SIGTERM);
  ASSERT_TRUE(wait_for_status("/readyz", 503));  // draining, still serving
  EXPECT_THAT(get("/readyz").second, HasSubstr("draining"));
  lb.context.TryCancel();
  EXPECT_TRUE(ExitedWith(jawlb_->process().Stop(SIGTERM, kWait), 0));
}

// Server reflection lists the services (what grpcurl-style tools ask first).
TEST(OperationsTest, ReflectionListsTheServices) {
  const std::string dir = MakeTempDir("operations_test.");
  // Reflection is served by gRPC C++'s server only (README: Configuration).
  auto jawlb = JawlbProcess::Start(
      JAWLB_BINARY, {"JAWLB_ENDPOINTS=127.0.0.2:1", "JAWLB_TRANSPORT=grpc"}, dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  grpc::GenericStub stub(Connect((*jawlb)->port()));
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto step = [&cq] {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    return ok;
  };
  call->StartCall(nullptr);
  ASSERT_TRUE(step());
  // ServerReflectionRequest{list_services: ""}: field 7, length 0.
  grpc::Slice request(std::string("\x3a\x00", 2));
  call->Write(grpc::ByteBuffer(&request, 1), nullptr);
  ASSERT_TRUE(step());
  grpc::ByteBuffer reply;
  call->Read(&reply, nullptr);
  ASSERT_TRUE(step());
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  EXPECT_THAT(bytes, HasSubstr("grpc.lb.v1.LoadBalancer"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));
  context.TryCancel();
}

// A grpclb client (C-core, through DNS SRV) sending RPCs all along.
class RpcLoop {
 public:
  explicit RpcLoop(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), thread_([this] { Run(); }) {}
  ~RpcLoop() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  int calls() const { return calls_.load(); }
  Spread spread() {
    absl::MutexLock lock(&mu_);
    return spread_;
  }
  // Waits until `n` more calls were made.
  bool WaitForCalls(int n) {
    const int target = calls_.load() + n;
    const absl::Time deadline = absl::Now() + kWait;
    while (calls_.load() < target) {
      if (absl::Now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

 private:
  void Run() {
    while (!stop_.load()) {
      const Spread one = CallMany(channel_, 1, absl::Seconds(5));
      absl::MutexLock lock(&mu_);
      for (const auto& [name, count] : one.calls) spread_.calls[name] += count;
      spread_.failures += one.failures;
      if (one.failures > 0) spread_.last_error = one.last_error;
      calls_.fetch_add(1);
    }
  }
  std::shared_ptr<grpc::Channel> channel_;
  std::atomic<bool> stop_{false};
  std::atomic<int> calls_{0};
  absl::Mutex mu_;
  Spread spread_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

class ReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto backend = EchoBackend::Start("alpha", "127.0.0.2");
    ASSERT_THAT(backend, IsOk());
    backend_ = *std::move(backend);
    std::ofstream(dir_ + "/endpoints") << backend_->address() << "\n";
  }
  absl::StatusOr<std::unique_ptr<JawlbProcess>> StartReplica(std::vector<std::string> env,
                                                             const std::string& name) {
    env.push_back("JAWLB_ENDPOINTSFILE=" + dir_ + "/endpoints");
    env.push_back("JAWLB_LOGLEVEL=debug");
    env.push_back("JAWLB_DRAINDELAY=1s");
    return JawlbProcess::Start(JAWLB_BINARY, env, dir_ + "/" + name + ".log");
  }
  std::shared_ptr<grpc::Channel> Client(const std::vector<int>& balancer_ports) {
    DnsServer::Records records;
    records.a = {{"jawlb.test", "127.0.0.1"}, {"echo.test", "127.0.0.1"}};
    for (int port : balancer_ports) records.grpclb.emplace_back("echo.test", "jawlb.test", port);
    auto dns = DnsServer::Start(records, dir_);
    EXPECT_THAT(dns, IsOk());
    if (!dns.ok()) return nullptr;
    dns_ = *std::move(dns);
    absl::StatusOr<int> unused = PickFreePort("127.0.0.1");
    return MakeGrpclbChannel(dns_->address(), absl::StrCat("echo.test:", unused.value_or(1)));
  }

  const std::string dir_ = MakeTempDir("replicas_test.");
  std::unique_ptr<EchoBackend> backend_;
  std::unique_ptr<DnsServer> dns_;
};

// A maximum connection age makes clients reconnect (and re-resolve) now and
// then; a client with a list keeps using it meanwhile: not one RPC fails.
TEST_F(ReplicasTest, MaxConnectionAgeReconnectsWithoutAFailedRpc) {
  auto jawlb =
      StartReplica({"JAWLB_MAXCONNECTIONAGE=1s", "JAWLB_MAXCONNECTIONAGEGRACE=500ms"}, "jawlb");
  ASSERT_THAT(jawlb, IsOk());
  auto channel = Client({(*jawlb)->port()});
  ASSERT_THAT(WaitForSpread(channel, {"alpha"}, true, 5, kWait), IsOk());
  RpcLoop loop(channel);
  // Three streams from the one client: it reconnected twice.
  ASSERT_THAT((*jawlb)->process().WaitForLine("asks for", kWait, 3), IsOk());
  ASSERT_TRUE(loop.WaitForCalls(20));
  loop.Stop();
  EXPECT_EQ(loop.spread().failures, 0) << loop.spread().ToString();
}

// Two replicas behind one SRV record; each is restarted in turn (SIGTERM with
// its drain, then a new process on the same port) while a client keeps sending
// RPCs: the client moves between replicas and not one RPC fails.
TEST_F(ReplicasTest, RollingRestartOfTwoReplicasFailsNoRpc) {
  auto a = StartReplica({}, "a");
  ASSERT_THAT(a, IsOk());
  auto b = StartReplica({}, "b");
  ASSERT_THAT(b, IsOk());
  const int port_a = (*a)->port(), port_b = (*b)->port();
  auto channel = Client({port_a, port_b});
  ASSERT_THAT(WaitForSpread(channel, {"alpha"}, true, 5, kWait), IsOk());
  RpcLoop loop(channel);
  int generation = 0;
  for (auto* replica : {&*a, &*b}) {
    const int port = (*replica)->port();
    EXPECT_TRUE(ExitedWith((*replica)->process().Stop(SIGTERM, kWait), 0))
        << (*replica)->process().Output();
    ASSERT_TRUE(loop.WaitForCalls(20));
    auto restarted =
        StartReplica({absl::StrCat("JAWLB_PORT=", port)}, absl::StrCat("restarted-", ++generation));
    ASSERT_THAT(restarted, IsOk());
    *replica = *std::move(restarted);
    ASSERT_TRUE(loop.WaitForCalls(20));
  }
  loop.Stop();
  EXPECT_EQ(loop.spread().failures, 0) << loop.spread().ToString();
  EXPECT_GT(loop.calls(), 80);
}

}  // namespace
}  // namespace jawlb::testbed
