#include "grpclb/server_list.h"

#include <vector>

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
