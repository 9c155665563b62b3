// JAWLB_MAXSERVERS with real grpclb clients (gRPC C++'s grpclb policy through
// DNS SRV) and xDS clients: each client sends its RPCs to exactly its k
// backends, and every backend serves the same number of clients, whichever
// protocol they speak.
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <signal.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "discovery/backend.h"
#include "grpclb/server_list.h"
#include "testbed/ads_client.h"
#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/jawlb_process.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;

// Four backends (alpha, beta, gamma, delta on 127.0.0.2-5) and jawlb serving
// them with JAWLB_MAXSERVERS=2.
struct FourBackends {
  void Start() {
    std::vector<std::string> addresses;
    for (const char* name : {"alpha", "beta", "gamma", "delta"}) {
      auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + backends.size()));
      ASSERT_THAT(backend, IsOk());
      addresses.push_back((*backend)->address());
      backends.push_back(*std::move(backend));
    }
    auto started = JawlbProcess::Start(
        JAWLB_BINARY, {"JAWLB_ENDPOINTS=" + absl::StrJoin(addresses, ","), "JAWLB_MAXSERVERS=2"},
        dir + "/jawlb.log");
    ASSERT_THAT(started, IsOk());
    jawlb = *std::move(started);
  }

  const std::string dir = MakeTempDir("subsetting_test.");
  std::vector<std::unique_ptr<EchoBackend>> backends;
  std::unique_ptr<JawlbProcess> jawlb;
};

TEST(SubsettingTest, RealClientsEachUseTheirTwoBackendsAndEveryBackendServesTwoClients) {
  FourBackends setup;
  ASSERT_NO_FATAL_FAILURE(setup.Start());
  const std::string& dir = setup.dir;
  const auto& backends = setup.backends;
  auto& jawlb = setup.jawlb;
  absl::StatusOr<EchoClient> dns = ConnectEchoClient(dir, jawlb->port());
  ASSERT_THAT(dns, IsOk());

  // Four clients, each its own channel and so its own BalanceLoad stream.
  std::map<std::string, int> clients_per_backend;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int client = 0; client < 4; ++client) {
    std::shared_ptr<grpc::Channel> channel =
        client == 0 ? dns->channel : MakeGrpclbChannel(dns->dns->address(), dns->target);
    // Until its round robin has both subchannels ready (right after the list
    // arrives, picks go to whichever connected first).
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (CallMany(channel, 10).calls.size() < 2 && absl::Now() < deadline) {
    }
    const Spread spread = CallMany(channel, 60);
    EXPECT_EQ(spread.failures, 0) << spread.ToString();
    EXPECT_EQ(spread.calls.size(), 2u) << "client " << client << ": " << spread.ToString();
    for (const auto& [name, calls] : spread.calls) {
      EXPECT_GE(calls, 20) << "round-robin over its two: " << spread.ToString();
      ++clients_per_backend[name];
    }
    channels.push_back(std::move(channel));  // keep it connected: it counts
  }
  // 4 clients x 2 = 8 links over 4 backends: two each.
  EXPECT_THAT(clients_per_backend,
              ::testing::ElementsAre(::testing::Pair("alpha", 2), ::testing::Pair("beta", 2),
                                     ::testing::Pair("delta", 2), ::testing::Pair("gamma", 2)));
  // Each backend can tell its two clients apart by the lb-token they send:
  // jl1.<replica>.<client>.<this backend's tag>.
  for (const auto& backend : backends) {
    const std::set<std::string> tokens = backend->tokens();
    EXPECT_EQ(tokens.size(), 2u) << backend->name();
    const std::string tag = grpclb::BackendTag(*discovery::ParseBackend(backend->address()));
    for (const std::string& token : tokens) {
      const std::vector<std::string> parts = absl::StrSplit(token, '.');
      ASSERT_EQ(parts.size(), 4u) << token;
      EXPECT_EQ(parts[0], "jl1");
      EXPECT_NE(parts[2], "0") << "a per-client list names its client: " << token;
      EXPECT_EQ(parts[3], tag) << token;
    }
  }
  channels.clear();
  EXPECT_TRUE(ExitedWith(jawlb->process().Stop(SIGTERM, absl::Seconds(60)), 0));
}

// Until a channel's round robin has `want` backends ready (right after the
// list arrives, picks go to whichever connected first); then what 60 calls hit.
Spread SettledSpread(const std::shared_ptr<grpc::Channel>& channel, size_t want) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (CallMany(channel, 10).calls.size() < want && absl::Now() < deadline) {
  }
  return CallMany(channel, 60);
}

// One planner for both protocols: a grpclb client, gRPC C++'s xDS client and
// two raw ADS streams, k = 2 of 4 backends: 8 links, two on every backend,
// each xDS client's assignment holding its own two.
TEST(SubsettingTest, XdsAndGrpclbClientsShareOnePlan) {
  FourBackends setup;
  ASSERT_NO_FATAL_FAILURE(setup.Start());
  const std::string& dir = setup.dir;
  const auto& backends = setup.backends;
  auto& jawlb = setup.jawlb;
  std::map<std::string, int> clients_per_backend;
  auto count = [&](const std::set<std::string>& used) {
    for (const std::string& address : used) {
      for (const auto& backend : backends) {
        if (backend->address() == address || backend->name() == address) {
          ++clients_per_backend[backend->name()];
        }
      }
    }
  };

  absl::StatusOr<EchoClient> dns = ConnectEchoClient(dir, jawlb->port());
  ASSERT_THAT(dns, IsOk());
  Spread spread = SettledSpread(dns->channel, 2);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  ASSERT_EQ(spread.calls.size(), 2u) << "grpclb: " << spread.ToString();
  std::set<std::string> used;
  for (const auto& [name, calls] : spread.calls) used.insert(name);
  count(used);

  absl::StatusOr<std::string> bootstrap =
      XdsBootstrap(JAWLB_BINARY, jawlb->port(), "subsetting-test", "test");
  ASSERT_THAT(bootstrap, IsOk());
  setenv("GRPC_XDS_BOOTSTRAP_CONFIG", bootstrap->c_str(), 1);
  auto xds = grpc::CreateChannel("xds:///echo.test:50051", grpc::InsecureChannelCredentials());
  spread = SettledSpread(xds, 2);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  ASSERT_EQ(spread.calls.size(), 2u) << "C++ xDS: " << spread.ToString();
  used.clear();
  for (const auto& [name, calls] : spread.calls) used.insert(name);
  count(used);

  std::vector<std::unique_ptr<AdsClient>> raw;
  for (int i = 0; i < 2; ++i) {
    raw.push_back(std::make_unique<AdsClient>(jawlb->port(), absl::StrCat("raw-", i)));
    ASSERT_THAT(raw.back()->Subscribe("echo.test:50051"), IsOk());
    auto assignment = raw.back()->NextAssignment();
    ASSERT_THAT(assignment, IsOk());
    const std::vector<std::string> listed = AdsClient::Addresses(*assignment);
    EXPECT_EQ(listed.size(), 2u) << assignment->DebugString();
    count({listed.begin(), listed.end()});
  }
  EXPECT_THAT(clients_per_backend,
              ::testing::ElementsAre(::testing::Pair("alpha", 2), ::testing::Pair("beta", 2),
                                     ::testing::Pair("delta", 2), ::testing::Pair("gamma", 2)));
  raw.clear();
  xds.reset();
  EXPECT_TRUE(ExitedWith(jawlb->process().Stop(SIGTERM, absl::Seconds(60)), 0));
}

}  // namespace
}  // namespace jawlb::testbed
