#include "grpclb/stream_limits.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"
#include "transport/peer.h"

namespace jawlb::grpclb {
namespace {

using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::HasSubstr;

TEST(StreamLimitsTest, PeerAddressDropsThePort) {
  EXPECT_EQ(transport::PeerAddress("ipv4:10.1.2.3:40000"), "ipv4:10.1.2.3");
  EXPECT_EQ(transport::PeerAddress("ipv6:[fd00::1]:40000"), "ipv6:[fd00::1]");
  EXPECT_EQ(transport::PeerAddress("unix:/tmp/socket"), "unix:/tmp/socket");
}

TEST(StreamLimitsTest, EachBoundRefusesWithItsSetting) {
  StreamLimits limits({.max_streams = 5, .max_per_connection = 2, .max_per_peer = 3});
  EXPECT_THAT(limits.Admit("ipv4:10.0.0.1:1"), IsOk());
  EXPECT_THAT(limits.Admit("ipv4:10.0.0.1:1"), IsOk());
  // A third stream on the connection (not a real one: nothing to cut).
  EXPECT_THAT(
      limits.Admit("ipv4:10.0.0.1:1"),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("JAWLB_MAXSTREAMSPERCONNECTION")));
  EXPECT_THAT(limits.Admit("ipv4:10.0.0.1:2"), IsOk());
  // A fourth from the address, on a new connection.
  EXPECT_THAT(limits.Admit("ipv4:10.0.0.1:3"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("JAWLB_MAXSTREAMSPERPEER")));
  EXPECT_THAT(limits.Admit("ipv4:10.0.0.2:1"), IsOk());
  EXPECT_THAT(limits.Admit("ipv4:10.0.0.3:1"), IsOk());
  EXPECT_EQ(limits.open(), 5u);
  EXPECT_THAT(limits.Admit("ipv4:10.0.0.4:1"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("JAWLB_MAXSTREAMS")));
  // Leaving makes room, for the connection and in all.
  limits.Release("ipv4:10.0.0.1:1");
  EXPECT_EQ(limits.open(), 4u);
  EXPECT_THAT(limits.Admit("ipv4:10.0.0.1:1"), IsOk());
  limits.Release("ipv4:10.0.0.3:1");
  EXPECT_THAT(limits.Admit("ipv4:10.0.0.4:1"), IsOk());
}

}  // namespace
}  // namespace jawlb::grpclb
