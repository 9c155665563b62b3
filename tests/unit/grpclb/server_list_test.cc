#include "grpclb/server_list.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jawlb::grpclb {
namespace {

using grpc::lb::v1::LoadBalanceResponse;

// Decodes what a client would receive.
LoadBalanceResponse Decode(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  LoadBalanceResponse response;
  EXPECT_TRUE(response.ParseFromString(bytes));
  return response;
}

TEST(ServerListTest, EncodesIpv4AsFourAndIpv6AsSixteenBytes) {
  const discovery::BackendSet set =
      *discovery::ParseBackendList("10.0.0.1:50051 [fd00::7]:8080 [::ffff:192.168.1.2]:9000");
  const LoadBalanceResponse response = Decode(Serialize(MakeServerListResponse(set)));
  ASSERT_TRUE(response.has_server_list());
  const auto& servers = response.server_list().servers();
  ASSERT_EQ(servers.size(), 3);
  EXPECT_EQ(servers[0].ip_address(), std::string("\x0a\x00\x00\x01", 4));
  EXPECT_EQ(servers[0].port(), 50051);
  EXPECT_EQ(servers[1].ip_address(), std::string("\xc0\xa8\x01\x02", 4));
  EXPECT_EQ(servers[1].port(), 9000);
  EXPECT_EQ(servers[2].ip_address().size(), 16u);
  EXPECT_EQ(servers[2].ip_address(),
            std::string("\xfd\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07", 16));
  EXPECT_EQ(servers[2].port(), 8080);
  for (const auto& server : servers) {
    EXPECT_FALSE(server.drop());
  }
}

TEST(ServerListTest, EveryEntryCarriesAShortPrintableTokenNamingReplicaClientAndBackend) {
  const discovery::BackendSet set =
      *discovery::ParseBackendList("10.0.0.1:50051 10.0.0.2:50051 [fd00::7]:8080");
  const std::string prefix = TokenPrefix("k3f9", 1234567);
  EXPECT_EQ(prefix, "jl1.k3f9.15nm7.");  // 1234567 = 1·32⁴ + 5·32³ + 21·32² + 20·32 + 7
  const LoadBalanceResponse response = Decode(Serialize(MakeServerListResponse(set, prefix)));
  std::set<std::string> tokens;
  for (const auto& server : response.server_list().servers()) {
    const std::string& token = server.load_balance_token();
    EXPECT_TRUE(absl::StartsWith(token, prefix)) << token;
    EXPECT_EQ(token.size(), prefix.size() + 4) << token;
    EXPECT_LT(token.size(), 50u);
    for (char c : token) EXPECT_TRUE(absl::ascii_isgraph(static_cast<unsigned char>(c))) << token;
    tokens.insert(token);
  }
  EXPECT_EQ(tokens.size(), 3u);  // one tag per backend
  // The tag is the same in every process, for every client.
  EXPECT_EQ(BackendTag(set.backends()[0]), BackendTag(*discovery::ParseBackend("10.0.0.1:50051")));
  // The longest prefix there can be still leaves room: 64-bit client numbers.
  EXPECT_LT(TokenPrefix("zzzz", ~uint64_t{0}).size() + 4, 50u);
  // No prefix, no tokens.
  const LoadBalanceResponse bare = Decode(Serialize(MakeServerListResponse(set)));
  EXPECT_EQ(bare.server_list().servers(0).load_balance_token(), "");
}

TEST(ServerListTest, Base32) {
  EXPECT_EQ(Base32(0), "0");
  EXPECT_EQ(Base32(31), "z");
  EXPECT_EQ(Base32(32), "10");
  EXPECT_EQ(Base32(5, 4), "0005");
  EXPECT_EQ(Base32(32 * 32 * 32 * 32 + 1, 4), "0001");  // the low four digits
}

TEST(ServerListTest, NoBackendsIsOneDropEntryNeverAnEmptyList) {
  const LoadBalanceResponse response =
      Decode(Serialize(MakeServerListResponse(discovery::BackendSet())));
  ASSERT_TRUE(response.has_server_list());
  ASSERT_EQ(response.server_list().servers_size(), 1);
  const auto& drop = response.server_list().servers(0);
  EXPECT_TRUE(drop.drop());
  EXPECT_EQ(drop.load_balance_token(), kNoBackendsToken);
  EXPECT_LT(drop.load_balance_token().size(), 50u);
}

TEST(ServerListTest, DropEntriesMakeUpTheAskedShareSpreadEvenly) {
  const discovery::BackendSet set =
      *discovery::ParseBackendList("10.0.0.1:1 10.0.0.2:1 10.0.0.3:1");
  for (int percent : {10, 25, 50, 67, 90}) {
    const LoadBalanceResponse response =
        Decode(Serialize(MakeServerListResponse(set, "jl1.k3f9.0.", percent)));
    const auto& servers = response.server_list().servers();
    int drops = 0;
    std::map<std::string, int> per_backend;
    int longest_run = 0;
    int run = 0;
    for (const auto& server : servers) {
      if (server.drop()) {
        ++drops;
        EXPECT_EQ(server.load_balance_token(), kOverloadToken);
        longest_run = std::max(longest_run, ++run);
      } else {
        ++per_backend[server.ip_address()];
        run = 0;
      }
    }
    EXPECT_NEAR(static_cast<double>(drops) / servers.size(), percent / 100.0, 0.005) << percent;
    ASSERT_EQ(per_backend.size(), 3u);
    for (const auto& [ip, count] : per_backend) {
      EXPECT_EQ(count, per_backend.begin()->second) << "every backend equally often";
    }
    // Evenly spread: no longer run of drops than the ratio needs.
    const int needed = (drops + servers.size() - drops - 1) / (servers.size() - drops);
    EXPECT_LE(longest_run, needed + 1) << percent;
  }
  // Zero: exactly the plain list.
  EXPECT_EQ(MakeServerListResponse(set, "", 0).SerializeAsString(),
            MakeServerListResponse(set).SerializeAsString());
}

TEST(ServerListTest, WeightsBecomeDuplicatesReducedSpreadAndCapped) {
  const std::vector<discovery::Backend> three =
      discovery::ParseBackendList("10.0.0.1:1 10.0.0.2:1 10.0.0.3:1")->backends();
  // 6:2:2 is 3:1:1, the heavy one's entries at 1/6, 1/2 and 5/6 of the list.
  const discovery::BackendSet set(three, {{three[0], 6}, {three[1], 2}, {three[2], 2}});
  EXPECT_THAT(WeightedOrder(set, 1000), ::testing::ElementsAre(0, 0, 1, 2, 0));
  const LoadBalanceResponse response = Decode(Serialize(MakeServerListResponse(set, "", 20)));
  std::map<std::string, int> count;
  int drops = 0;
  for (const auto& server : response.server_list().servers()) {
    if (server.drop()) {
      ++drops;
    } else {
      ++count[server.ip_address()];
    }
  }
  EXPECT_EQ(count[std::string("\x0a\x00\x00\x01", 4)],
            3 * count[std::string("\x0a\x00\x00\x02", 4)]);
  EXPECT_NEAR(static_cast<double>(drops) / response.server_list().servers_size(), 0.20, 0.005);
  // No weights: each once, in order.
  EXPECT_THAT(WeightedOrder(discovery::BackendSet(three), 1000), ::testing::ElementsAre(0, 1, 2));
  // Over the cap: scaled down, everyone keeps at least one entry.
  std::vector<discovery::Backend> many;
  std::map<discovery::Backend, uint32_t> weights;
  for (int i = 0; i < 300; ++i) {
    many.push_back(*discovery::MakeBackend(absl::StrCat("10.1.", i / 256, ".", i % 256), 1));
    weights[many.back()] = i % 2 == 0 ? 99 : 1;
  }
  const std::vector<size_t> order = WeightedOrder(discovery::BackendSet(many, weights), 1000);
  EXPECT_LE(order.size(), 1000u);
  std::map<size_t, int> per;
  for (size_t index : order) ++per[index];
  EXPECT_EQ(per.size(), 300u);
}

// Issue 13, item 12: 30,000 endpoints with one weighted slice cost 2.1 s per
// change (quadratic) and, above 1,000 backends, the weights did nothing.
TEST(ServerListTest, WeightsCountWithManyBackends) {
  std::vector<discovery::Backend> many;
  std::map<discovery::Backend, uint32_t> weights;
  for (int i = 0; i < 30000; ++i) {
    many.push_back(*discovery::MakeBackend(
        absl::StrCat("10.", i / 65536, ".", i / 256 % 256, ".", i % 256), 1));
    if (i < 100) weights[many.back()] = 3;  // one weighted slice
  }
  const discovery::BackendSet set(many, weights);
  EXPECT_EQ(WeightedEntries(set), 30200u);
  EXPECT_EQ(WeightedEntryCap(set.size()), 60000u);
  const std::vector<size_t> order = WeightedOrder(set, WeightedEntryCap(set.size()));
  ASSERT_EQ(order.size(), 30200u);
  std::vector<int> per(many.size(), 0);
  for (size_t index : order) ++per[index];
  EXPECT_EQ(per[0], 3);
  EXPECT_EQ(per[99], 3);
  EXPECT_EQ(per[100], 1);
  // Over the cap, scaled: the heavy ones still get more than the others.
  std::map<discovery::Backend, uint32_t> heavy;
  for (int i = 0; i < 30000; ++i) heavy[many[i]] = i % 2 == 0 ? 100 : 1;
  const std::vector<size_t> scaled =
      WeightedOrder(discovery::BackendSet(many, heavy), WeightedEntryCap(many.size()));
  EXPECT_LE(scaled.size(), 60000u);
  std::vector<int> count(many.size(), 0);
  for (size_t index : scaled) ++count[index];
  EXPECT_GT(count[0], count[1]);
  EXPECT_EQ(count[1], 1);
}

// Issue 13, item 11: a list over the clients' receive limit failed every
// client; now the list is cut to what fits, the same backends every time.
TEST(ServerListTest, FitToBytesKeepsWhatFitsStably) {
  std::vector<discovery::Backend> many;
  for (int i = 0; i < 5000; ++i) {
    many.push_back(*discovery::MakeBackend(absl::StrCat("fd00::", absl::Hex(i + 1)), 443));
  }
  const discovery::BackendSet set(many);
  const size_t full = MakeServerListResponse(set, "jl1.abcd.0.", 0).ByteSizeLong();
  EXPECT_EQ(FitToBytes(set, "jl1.abcd.0.", 0, full).size(), 5000u);
  const discovery::BackendSet fitted = FitToBytes(set, "jl1.abcd.0.", 0, full / 2);
  EXPECT_LE(MakeServerListResponse(fitted, "jl1.abcd.0.", 0).ByteSizeLong(), full / 2);
  EXPECT_GT(fitted.size(), 2300u);
  EXPECT_LT(fitted.size(), 2500u);
  // One backend more or less moves at most one in or out of the cut list.
  std::vector<discovery::Backend> fewer(many.begin() + 1, many.end());
  const discovery::BackendSet refitted =
      FitToBytes(discovery::BackendSet(fewer), "jl1.abcd.0.", 0, full / 2);
  size_t common = 0;
  for (const discovery::Backend& backend : refitted.backends()) {
    common += std::binary_search(fitted.backends().begin(), fitted.backends().end(), backend);
  }
  EXPECT_GE(common + 2, fitted.size());
}

TEST(ServerListTest, InitialResponseCarriesTheReportInterval) {
  LoadBalanceResponse response = Decode(Serialize(MakeInitialResponse(absl::Milliseconds(1500))));
  ASSERT_TRUE(response.has_initial_response());
  EXPECT_EQ(response.initial_response().client_stats_report_interval().seconds(), 1);
  EXPECT_EQ(response.initial_response().client_stats_report_interval().nanos(), 500000000);

  response = Decode(Serialize(MakeInitialResponse(absl::ZeroDuration())));
  ASSERT_TRUE(response.has_initial_response());
  EXPECT_FALSE(response.initial_response().has_client_stats_report_interval());
}

TEST(ServerListTest, CopiesShareTheEncodedBytes) {
  // The fan-out relies on this: every stream writes a copy of one ByteBuffer.
  const grpc::ByteBuffer original = Serialize(
      MakeServerListResponse(*discovery::ParseBackendList("10.0.0.1:1 10.0.0.2:2 10.0.0.3:3")));
  const grpc::ByteBuffer copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  std::vector<grpc::Slice> a, b;
  ASSERT_TRUE(original.Dump(&a).ok());
  ASSERT_TRUE(copy.Dump(&b).ok());
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(a[0].begin(), b[0].begin());
}

}  // namespace
}  // namespace jawlb::grpclb
