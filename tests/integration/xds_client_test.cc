// End to end with real xDS clients: gRPC C++ (C-core) in this process dials
// xds:///echo.test, reads a bootstrap naming the real jawlb binary as its xDS
// server (GRPC_XDS_BOOTSTRAP_CONFIG), and gets Listener → route → Cluster →
// endpoints over one ADS stream. Backends are echo servers on 127.0.0.2-4;
// jawlb serves them from an endpoints file the test edits.
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/lb_stream.h"
#include "testbed/subprocess.h"
#include "tests/common/status_matchers.h"
#include "tests/integration/whoami_client.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;

constexpr absl::Duration kSettle = absl::Seconds(60);

class XdsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"alpha", "beta", "gamma"}) {
      auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + backends_.size()));
      ASSERT_THAT(backend, IsOk());
      backends_.push_back(*std::move(backend));
    }
    endpoints_ = dir_ + "/endpoints";
    List({backends_[0].get(), backends_[1].get(), backends_[2].get()});
    auto jawlb = JawlbProcess::Start(JAWLB_BINARY,
                                     {"JAWLB_ENDPOINTSFILE=" + endpoints_, "JAWLB_LOGLEVEL=debug"},
                                     dir_ + "/jawlb.log");
    ASSERT_THAT(jawlb, IsOk());
    jawlb_ = *std::move(jawlb);
    // The bootstrap every client reads, as `jawlb bootstrap` prints it
    // (README, client set-up).
    absl::StatusOr<std::string> bootstrap =
        XdsBootstrap(JAWLB_BINARY, jawlb_->port(), "xds-client-test", "test");
    ASSERT_THAT(bootstrap, IsOk());
    setenv("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap->c_str(), 1);
    bootstrap_file_ = dir_ + "/bootstrap.json";
    std::ofstream(bootstrap_file_) << *bootstrap;
  }

  void TearDown() override {
    if (jawlb_ != nullptr) {
      std::optional<int> status = jawlb_->process().Stop(SIGTERM, absl::Seconds(60));
      ASSERT_TRUE(ExitedWith(status, 0)) << jawlb_->process().Output();
    }
  }

  void List(const std::vector<const EchoBackend*>& listed) {
    const std::string tmp = endpoints_ + ".tmp";
    std::ofstream(tmp) << absl::StrJoin(listed, "\n", [](std::string* out, const EchoBackend* b) {
      out->append(b->address());
    }) << "\n";
    ASSERT_EQ(std::rename(tmp.c_str(), endpoints_.c_str()), 0);
  }

  const std::string dir_ = MakeTempDir("xds_client_test.");
  std::vector<std::unique_ptr<EchoBackend>> backends_;
  std::string endpoints_;
  std::unique_ptr<JawlbProcess> jawlb_;
  std::string bootstrap_file_;
};

TEST_F(XdsClientTest, CppXdsClientFollowsTheList) {
  auto channel = grpc::CreateChannel("xds:///echo.test:50051", grpc::InsecureChannelCredentials());
  // All three: every backend gets its share.
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kSettle), IsOk())
      << jawlb_->process().Output();
  Spread spread = CallMany(channel, 300);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  for (const char* name : {"alpha", "beta", "gamma"}) {
    EXPECT_GE(spread.calls[name], 60) << spread.ToString();
  }
  // A change reaches it: gamma out.
  List({backends_[0].get(), backends_[1].get()});
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta"}, true, 30, kSettle), IsOk());
  spread = CallMany(channel, 200);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  EXPECT_EQ(spread.calls.count("gamma"), 0u) << spread.ToString();
  // The change's way to the client is measured (its first assignment is not
  // a change), once jawlb has seen its write complete.
  const std::string url = absl::StrCat("http://127.0.0.1:", jawlb_->admin_port(), "/metrics");
  absl::StatusOr<std::pair<int, std::string>> metrics;
  for (const absl::Time until = absl::Now() + kSettle; absl::Now() < until;) {
    metrics = HttpGet(url);
    ASSERT_THAT(metrics, IsOk());
    if (absl::StrContains(metrics->second, "jawlb_xds_propagation_seconds_count 1\n")) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_THAT(metrics->second, HasSubstr("jawlb_xds_propagation_seconds_count 1\n"));
  // /debug/state names the client as its bootstrap and library do.
  auto state = HttpGet(absl::StrCat("http://127.0.0.1:", jawlb_->admin_port(), "/debug/state"));
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(state->second, HasSubstr(R"("node":"xds-client-test","locality":"/test/",)"
                                       R"("user_agent":"gRPC C-core )"));
  // No backends (a complete file listing none): RPCs fail at once, saying so.
  List({});
  absl::Time deadline = absl::Now() + kSettle;
  while (absl::Now() < deadline) {
    spread = CallMany(channel, 1, absl::Seconds(5));
    if (spread.failures == 1) break;
  }
  EXPECT_THAT(spread.last_error, HasSubstr("jawlb-no-backends")) << spread.ToString();
}

// jawlb restarted: the client keeps calling from its cached resources while
// the server is away (no failed RPC), then resubscribes and follows the new
// process's list.
TEST_F(XdsClientTest, AClientKeepsItsResourcesWhileJawlbRestarts) {
  auto channel = grpc::CreateChannel("xds:///echo.test:50051", grpc::InsecureChannelCredentials());
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kSettle), IsOk());
  const int port = jawlb_->port();
  ASSERT_TRUE(ExitedWith(jawlb_->process().Stop(SIGTERM, absl::Seconds(60)), 0));
  jawlb_.reset();
  Spread away = CallMany(channel, 100);
  EXPECT_EQ(away.failures, 0) << away.ToString();
  List({backends_[0].get()});
  auto jawlb = JawlbProcess::Start(
      JAWLB_BINARY, {"JAWLB_ENDPOINTSFILE=" + endpoints_, absl::StrCat("JAWLB_PORT=", port)},
      dir_ + "/jawlb2.log");
  ASSERT_THAT(jawlb, IsOk());
  jawlb_ = *std::move(jawlb);
  EXPECT_THAT(WaitForSpread(channel, {"alpha"}, true, 30, kSettle), IsOk())
      << jawlb_->process().Output();
}

// grpc-js with grpc-js-xds (Node): an independent xDS client, the only way in
// for Node. It reads the same bootstrap from a file (GRPC_XDS_BOOTSTRAP).
TEST_F(XdsClientTest, NodeXdsClientFollowsTheList) {
  auto node = SpawnWhoami("xds:///echo.test:50051", bootstrap_file_, dir_ + "/node.log");
  ASSERT_THAT(node, IsOk());
  Subprocess& client = **node;
  auto wait_for = [&client](const std::string& names, int after = 0) {
    return WaitForWindow(client, names, after, kSettle);
  };
  int window = wait_for("alpha,beta,gamma");
  ASSERT_GT(window, 0) << client.Output();
  List({backends_[1].get(), backends_[2].get()});
  window = wait_for("beta,gamma", window);
  ASSERT_GT(window, 0) << client.Output();
  // No backends: every RPC of a window fails at once, saying why.
  List({});
  window = wait_for("", window);
  ASSERT_GT(window, 0) << client.Output();
  EXPECT_THAT(client.WaitForLine(absl::StrCat("window ", window, ":  failed=30"), kSettle), IsOk());
  EXPECT_THAT(client.Output(), HasSubstr("jawlb-no-backends"));
  List({backends_[0].get()});
  EXPECT_GT(wait_for("alpha", window), window) << client.Output();
}

// A client that refuses what it gets (a NACK) is logged, and what it refused
// is not sent to it again: the next response it gets answers its
// next subscription. Spoken by hand with our own generated stub.
TEST_F(XdsClientTest, ANackIsRecordedAndNotAnsweredWithTheSameAgain) {
  using envoy::service::discovery::v3::DiscoveryRequest;
  using envoy::service::discovery::v3::DiscoveryResponse;
  auto stub =
      envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(grpc::CreateChannel(
          absl::StrCat("127.0.0.1:", jawlb_->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kSettle));
  auto stream = stub->StreamAggregatedResources(&context);
  DiscoveryRequest request;
  request.mutable_node()->set_id("nacker");
  request.set_type_url("type.googleapis.com/envoy.config.listener.v3.Listener");
  request.add_resource_names("echo.test:50051");
  ASSERT_TRUE(stream->Write(request));
  DiscoveryResponse listeners;
  ASSERT_TRUE(stream->Read(&listeners));
  EXPECT_EQ(listeners.resources_size(), 1);
  // Refuse it.
  DiscoveryRequest nack = request;
  nack.clear_node();
  nack.set_response_nonce(listeners.nonce());
  nack.mutable_error_detail()->set_code(3);
  nack.mutable_error_detail()->set_message("this test refuses every listener");
  ASSERT_TRUE(stream->Write(nack));
  // Then ask for a cluster: the next response is that, not the listener again.
  DiscoveryRequest clusters;
  clusters.set_type_url("type.googleapis.com/envoy.config.cluster.v3.Cluster");
  clusters.add_resource_names("file");
  ASSERT_TRUE(stream->Write(clusters));
  DiscoveryResponse next;
  ASSERT_TRUE(stream->Read(&next));
  EXPECT_EQ(next.type_url(), "type.googleapis.com/envoy.config.cluster.v3.Cluster");
  EXPECT_THAT(jawlb_->process().WaitForLine("this test refuses every listener", kSettle), IsOk());
  // Counted, and shown with the client on /debug/state.
  const std::string admin = absl::StrCat("http://127.0.0.1:", jawlb_->admin_port());
  auto metrics = HttpGet(admin + "/metrics");
  ASSERT_THAT(metrics, IsOk());
  EXPECT_THAT(metrics->second,
              HasSubstr(R"(jawlb_xds_requests_total{type="listener",kind="nack"} 1)"));
  EXPECT_THAT(metrics->second, HasSubstr(R"(jawlb_xds_responses_total{type="cluster"} 1)"));
  auto state = HttpGet(admin + "/debug/state");
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(state->second, HasSubstr(R"("protocol":"xds","node":"nacker")"));
  EXPECT_THAT(state->second, HasSubstr(R"("last_nack":"this test refuses every listener")"));
  // ... and on the status page.
  auto page = HttpGet(admin + "/");
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(page->second, HasSubstr("<td>xDS nacker</td>"));
  EXPECT_THAT(page->second, HasSubstr("<b>refused listener: this test refuses every listener</b>"));
  context.TryCancel();
}

// Load reports (LRS): the Cluster asks for them, gRPC C++ sends them, and the
// demand they report counts toward JAWLB_MAXRPSPERBACKEND: past it, the
// assignment drops a share of calls with category jawlb-overload.
TEST_F(XdsClientTest, LoadReportsDriveSheddingOfXdsClients) {
  ASSERT_TRUE(ExitedWith(jawlb_->process().Stop(SIGTERM, absl::Seconds(60)), 0));
  auto jawlb = JawlbProcess::Start(
      JAWLB_BINARY,
      {"JAWLB_ENDPOINTSFILE=" + endpoints_, absl::StrCat("JAWLB_PORT=", jawlb_->port()),
       "JAWLB_MAXRPSPERBACKEND=1", "JAWLB_CLIENTSTATSINTERVAL=1s", "JAWLB_LOADSMOOTHING=2s"},
      dir_ + "/jawlb-shedding.log");
  ASSERT_THAT(jawlb, IsOk());
  jawlb_ = *std::move(jawlb);
  auto channel = grpc::CreateChannel("xds:///echo.test:50051", grpc::InsecureChannelCredentials());
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kSettle), IsOk());
  // Far more than three backends at 1 call/s take: soon some calls drop.
  const absl::Time deadline = absl::Now() + kSettle;
  Spread spread;
  while (absl::Now() < deadline) {
    spread = CallMany(channel, 50);
    if (absl::StrContains(spread.last_error, "jawlb-overload")) break;
  }
  EXPECT_THAT(spread.last_error, HasSubstr("jawlb-overload")) << spread.ToString();
  auto metrics = HttpGet(absl::StrCat("http://127.0.0.1:", jawlb_->admin_port(), "/metrics"));
  ASSERT_THAT(metrics, IsOk());
  EXPECT_THAT(metrics->second, HasSubstr(R"(jawlb_xds_load_reports_total{result="accepted"})"));
  // The operator sees the client's reported load beside its ADS stream.
  auto state = HttpGet(absl::StrCat("http://127.0.0.1:", jawlb_->admin_port(), "/debug/state"));
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(state->second,
              ::testing::ContainsRegex(R"("protocol":"xds".*"load":\{"reports":[1-9][0-9]*,)"
                                       R"("rejected_reports":0,"calls_started":[1-9])"))
      << state->second;
}

// Names come from the client: one over 255 bytes (a listener: what the client
// dialed, bounded as grpclb names are) ends the stream saying why.
TEST_F(XdsClientTest, AnOverlongNameEndsTheStream) {
  auto stub =
      envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(grpc::CreateChannel(
          absl::StrCat("127.0.0.1:", jawlb_->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kSettle));
  auto stream = stub->StreamAggregatedResources(&context);
  envoy::service::discovery::v3::DiscoveryRequest request;
  request.set_type_url("type.googleapis.com/envoy.config.listener.v3.Listener");
  request.add_resource_names(std::string(256, 'a'));
  ASSERT_TRUE(stream->Write(request));
  envoy::service::discovery::v3::DiscoveryResponse response;
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("256 bytes; at most 255"));
}

// xDS streams count toward the same stream bounds as grpclb's: a client
// address at its JAWLB_MAXSTREAMSPERPEER is refused an ADS stream too.
TEST(XdsLimitsTest, AdsStreamsShareTheStreamBounds) {
  const std::string dir = MakeTempDir("xds_limits_test.");
  auto jawlb = JawlbProcess::Start(JAWLB_BINARY,
                                   {"JAWLB_ENDPOINTS=127.0.0.2:1", "JAWLB_MAXSTREAMSPERPEER=2"},
                                   dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  grpc::lb::v1::LoadBalanceResponse list;
  LbStream first((*jawlb)->port());
  ASSERT_TRUE(first.ReadList(&list));
  LbStream second((*jawlb)->port());
  ASSERT_TRUE(second.ReadList(&list));
  auto stub =
      envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(grpc::CreateChannel(
          absl::StrCat("127.0.0.1:", (*jawlb)->port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kSettle));
  auto stream = stub->StreamAggregatedResources(&context);
  envoy::service::discovery::v3::DiscoveryResponse response;
  EXPECT_FALSE(stream->Read(&response));
  const grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("JAWLB_MAXSTREAMSPERPEER"));
}

}  // namespace
}  // namespace jawlb::testbed
