// One ADS stream's decisions with plain values: no gRPC, no threads.
#include "xds/ads_cursor.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jawlb::xds {
namespace {

using Type = AdsCursor::Type;
using Kind = AdsCursor::Kind;
using ::testing::ElementsAre;

AdsCursor::Request Req(Type type, std::vector<std::string> names, std::string version = "",
                       std::string nonce = "", absl::Status error = absl::OkStatus()) {
  return {type, std::move(names), std::move(version), std::move(nonce), std::move(error)};
}

constexpr std::array<uint64_t, AdsCursor::kTypes> kSame = {1, 1, 1, 1};

TEST(AdsCursorTest, ASubscriptionIsAnsweredWithEveryNameAndAFreshVersion) {
  AdsCursor cursor("r1");
  EXPECT_EQ(cursor.OnRequest(Req(Type::kListener, {"b", "a"})), Kind::kSubscribe);
  auto response = cursor.Next(kSame);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->type, Type::kListener);
  EXPECT_THAT(response->names, ElementsAre("a", "b"));
  EXPECT_EQ(response->version, "r1-1");
  EXPECT_EQ(response->nonce, "1");
  // One response in flight at a time.
  EXPECT_EQ(cursor.OnRequest(Req(Type::kCluster, {"c"})), Kind::kSubscribe);
  EXPECT_FALSE(cursor.Next(kSame).has_value());
  cursor.WriteDone();
  response = cursor.Next(kSame);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->type, Type::kCluster);
  EXPECT_EQ(response->version, "r1-2");
}

TEST(AdsCursorTest, AnAckIsRecordedAndNotAnsweredUnlessItsNamesChanged) {
  AdsCursor cursor("r1");
  cursor.OnRequest(Req(Type::kListener, {"a"}));
  auto sent = cursor.Next(kSame);
  cursor.WriteDone();
  EXPECT_EQ(cursor.OnRequest(Req(Type::kListener, {"a"}, sent->version, sent->nonce)), Kind::kAck);
  EXPECT_EQ(cursor.seen(Type::kListener).acked_version, "r1-1");
  EXPECT_FALSE(cursor.Next(kSame).has_value());
}

TEST(AdsCursorTest, ARequestNamingAnOlderNonceIsSuperseded) {
  AdsCursor cursor("r1");
  cursor.OnRequest(Req(Type::kListener, {"a"}));
  auto first = cursor.Next(kSame);
  cursor.WriteDone();
  cursor.OnRequest(Req(Type::kListener, {"a", "b"}, first->version, first->nonce));
  auto second = cursor.Next(kSame);
  ASSERT_TRUE(second.has_value());
  cursor.WriteDone();
  // The client's request answering the first response crossed ours.
  EXPECT_EQ(cursor.OnRequest(Req(Type::kListener, {"a"}, first->version, first->nonce)),
            Kind::kStale);
  EXPECT_THAT(cursor.names(Type::kListener), ElementsAre("a", "b"));
  EXPECT_FALSE(cursor.Next(kSame).has_value());
}

TEST(AdsCursorTest, NamesAddedWithTheCurrentNonceAreAnswered) {
  AdsCursor cursor("r1");
  cursor.OnRequest(Req(Type::kListener, {"a"}));
  auto sent = cursor.Next(kSame);
  cursor.WriteDone();
  EXPECT_EQ(cursor.OnRequest(Req(Type::kListener, {"a", "b"}, sent->version, sent->nonce)),
            Kind::kAck);
  auto again = cursor.Next(kSame);
  ASSERT_TRUE(again.has_value());
  EXPECT_THAT(again->names, ElementsAre("a", "b"));
}

TEST(AdsCursorTest, AReconnectingClientIsAnsweredWhateverVersionItCarries) {
  AdsCursor cursor("r2");  // a new process
  EXPECT_EQ(cursor.OnRequest(Req(Type::kEndpoints, {"prod/echo"}, "r1-7", "")), Kind::kSubscribe);
  auto response = cursor.Next(kSame);
  ASSERT_TRUE(response.has_value());
  EXPECT_NE(response->version, "r1-7");
}

TEST(AdsCursorTest, ANackIsRecordedAndWhatItRefusedIsNeverResent) {
  AdsCursor cursor("r1");
  cursor.OnRequest(Req(Type::kEndpoints, {"c"}));
  auto sent = cursor.Next(kSame);
  cursor.WriteDone();
  EXPECT_EQ(cursor.OnRequest(Req(Type::kEndpoints, {"c"}, "", sent->nonce,
                                 absl::InvalidArgumentError("duplicate address"))),
            Kind::kNack);
  EXPECT_EQ(cursor.seen(Type::kEndpoints).nack, "duplicate address");
  EXPECT_EQ(cursor.seen(Type::kEndpoints).nacks, 1u);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(cursor.Next(kSame).has_value());
  // New content is sent; its ACK clears the NACK.
  auto fixed = cursor.Next({1, 1, 1, 2});
  ASSERT_TRUE(fixed.has_value());
  cursor.WriteDone();
  cursor.OnRequest(Req(Type::kEndpoints, {"c"}, fixed->version, fixed->nonce));
  EXPECT_EQ(cursor.seen(Type::kEndpoints).nack, "");
  EXPECT_EQ(cursor.seen(Type::kEndpoints).acked_version, fixed->version);
}

TEST(AdsCursorTest, ChangesArePushedLatestWins) {
  AdsCursor cursor("r1");
  cursor.OnRequest(Req(Type::kEndpoints, {"c"}));
  ASSERT_TRUE(cursor.Next({0, 0, 0, 5}).has_value());
  // Two changes land during the write: one response, with the newest.
  EXPECT_FALSE(cursor.Next({0, 0, 0, 6}).has_value());
  cursor.WriteDone();
  EXPECT_TRUE(cursor.Next({0, 0, 0, 7}).has_value());
  cursor.WriteDone();
  EXPECT_FALSE(cursor.Next({0, 0, 0, 7}).has_value());
  // Nothing is pushed for a type nobody subscribed to.
  EXPECT_FALSE(cursor.Next({9, 9, 9, 7}).has_value());
}

TEST(AdsCursorTest, TypeUrls) {
  EXPECT_EQ(AdsCursor::TypeOf("type.googleapis.com/envoy.config.cluster.v3.Cluster"),
            Type::kCluster);
  EXPECT_EQ(AdsCursor::TypeOf("type.googleapis.com/envoy.api.v2.Cluster"), std::nullopt);
  EXPECT_STREQ(AdsCursor::UrlOf(Type::kEndpoints),
               "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment");
}

}  // namespace
}  // namespace jawlb::xds
