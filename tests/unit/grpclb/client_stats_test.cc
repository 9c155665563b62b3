#include "grpclb/client_stats.h"

#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"

namespace jawlb::grpclb {
namespace {

using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::HasSubstr;

grpc::lb::v1::ClientStats Report(int64_t started, int64_t finished, int64_t dropped = 0) {
  grpc::lb::v1::ClientStats stats;
  stats.set_num_calls_started(started);
  stats.set_num_calls_finished(finished);
  stats.set_num_calls_finished_known_received(finished);
  if (dropped > 0) {
    auto* per_token = stats.add_calls_finished_with_drop();
    per_token->set_load_balance_token("jawlb-no-backends");
    per_token->set_num_calls(dropped);
  }
  return stats;
}

TEST(ClientLoadTest, SumsDeltas) {
  ClientLoad load;
  const absl::Time t1 = absl::FromUnixSeconds(100), t2 = absl::FromUnixSeconds(110);
  ASSERT_THAT(load.Add(Report(10, 9, 1), t1), IsOk());
  ASSERT_THAT(load.Add(Report(5, 6, 2), t2), IsOk());
  EXPECT_EQ(load.reports, 2);
  EXPECT_EQ(load.calls_started, 15);
  EXPECT_EQ(load.calls_finished, 15);
  EXPECT_EQ(load.calls_known_received, 15);
  EXPECT_EQ(load.calls_dropped, 3);
  EXPECT_EQ(load.last_report, t2);
}

TEST(ClientLoadTest, AllZeroReportCounts) {
  ClientLoad load;
  ASSERT_THAT(load.Add(grpc::lb::v1::ClientStats(), absl::FromUnixSeconds(1)), IsOk());
  EXPECT_EQ(load.reports, 1);
  EXPECT_EQ(load.calls_started, 0);
}

TEST(ClientLoadTest, NonsenseIsRejectedWholeAndNamed) {
  ClientLoad load;
  ASSERT_THAT(load.Add(Report(10, 10), absl::FromUnixSeconds(1)), IsOk());
  EXPECT_THAT(load.Add(Report(-4, 1), absl::FromUnixSeconds(2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_calls_started=-4")));
  EXPECT_THAT(load.Add(Report(1, 1, std::numeric_limits<int64_t>::max()), absl::FromUnixSeconds(3)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("calls_finished_with_drop")));
  EXPECT_EQ(load.reports, 1);
  EXPECT_EQ(load.rejected_reports, 2);
  EXPECT_EQ(load.calls_started, 10);
  EXPECT_EQ(load.calls_finished, 10);
  EXPECT_EQ(load.calls_dropped, 0);
  EXPECT_EQ(load.last_report, absl::FromUnixSeconds(1));
}

TEST(ClientLoadTest, TotalsSaturateInsteadOfOverflowing) {
  ClientLoad load;
  load.calls_started = std::numeric_limits<int64_t>::max() - 5;
  ASSERT_THAT(load.Add(Report(int64_t{1} << 40, 0), absl::FromUnixSeconds(1)), IsOk());
  EXPECT_EQ(load.calls_started, std::numeric_limits<int64_t>::max());
}

}  // namespace
}  // namespace jawlb::grpclb
