// JAWLB_MAXSERVERS with real grpclb clients (gRPC C++'s grpclb policy through
// DNS SRV): each client sends its RPCs to exactly its k backends, and every
// backend serves the same number of clients.
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
#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/jawlb_process.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;

TEST(SubsettingTest, RealClientsEachUseTheirTwoBackendsAndEveryBackendServesTwoClients) {
  const std::string dir = MakeTempDir("subsetting_test.");
  std::vector<std::unique_ptr<EchoBackend>> backends;
  std::vector<std::string> addresses;
  for (const char* name : {"alpha", "beta", "gamma", "delta"}) {
    auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + backends.size()));
    ASSERT_THAT(backend, IsOk());
    addresses.push_back((*backend)->address());
    backends.push_back(*std::move(backend));
  }
  auto jawlb = JawlbProcess::Start(
      JAWLB_BINARY, {"JAWLB_ENDPOINTS=" + absl::StrJoin(addresses, ","), "JAWLB_MAXSERVERS=2"},
      dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  absl::StatusOr<EchoClient> dns = ConnectEchoClient(dir, (*jawlb)->port());
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
  EXPECT_TRUE(ExitedWith((*jawlb)->process().Stop(SIGTERM, absl::Seconds(60)), 0));
}

}  // namespace
}  // namespace jawlb::testbed
