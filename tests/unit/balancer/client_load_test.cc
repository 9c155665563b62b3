#include "balancer/client_load.h"

#include <limits>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"

namespace jawlb::balancer {
namespace {

using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

const absl::Time kStart = absl::FromUnixSeconds(1000);

LoadReport Report(int64_t started, int64_t finished, int64_t dropped = 0) {
  LoadReport report;
  report.calls_started = started;
  report.calls_finished = finished;
  report.calls_known_received = finished;
  if (dropped > 0) report.drops.emplace_back("jawlb-no-backends", dropped);
  return report;
}

TEST(ClientLoadTest, SumsDeltasIntoTotals) {
  ClientLoad load(kStart);
  ASSERT_THAT(load.Add(Report(10, 9, 1), kStart + absl::Seconds(10)), IsOk());
  ASSERT_THAT(load.Add(Report(5, 6, 2), kStart + absl::Seconds(20)), IsOk());
  EXPECT_EQ(load.totals().reports, 2);
  EXPECT_EQ(load.totals().calls_started, 15);
  EXPECT_EQ(load.totals().calls_finished, 15);
  EXPECT_EQ(load.totals().calls_known_received, 15);
  EXPECT_EQ(load.totals().calls_dropped, 3);
  EXPECT_THAT(load.drops_by_token(), ElementsAre(Pair("jawlb-no-backends", 3)));
  EXPECT_EQ(load.last_report(), kStart + absl::Seconds(20));
}

TEST(ClientLoadTest, SteadyReportsConvergeOnTheRate) {
  ClientLoad load(kStart, absl::Seconds(30));
  absl::Time now = kStart;
  for (int i = 0; i < 60; ++i) {  // 100 calls/s, reported every 10 s, for 10 minutes
    now += absl::Seconds(10);
    ASSERT_THAT(load.Add(Report(1000, 1000), now), IsOk());
  }
  EXPECT_THAT(load.RatesAt(now).started, DoubleNear(100, 0.01));
  EXPECT_THAT(load.RatesAt(now).finished, DoubleNear(100, 0.01));
  // A step to 200/s shows within a few smoothing times, not at once.
  now += absl::Seconds(10);
  ASSERT_THAT(load.Add(Report(2000, 2000), now), IsOk());
  const double after_one = load.RatesAt(now).started;
  EXPECT_GT(after_one, 120);
  EXPECT_LT(after_one, 150);
  for (int i = 0; i < 20; ++i) {
    now += absl::Seconds(10);
    ASSERT_THAT(load.Add(Report(2000, 2000), now), IsOk());
  }
  EXPECT_THAT(load.RatesAt(now).started, DoubleNear(200, 1));
}

TEST(ClientLoadTest, ZerosAreLoadAndSilenceFades) {
  ClientLoad load(kStart, absl::Seconds(30));
  ASSERT_THAT(load.Add(Report(1000, 1000), kStart + absl::Seconds(10)), IsOk());
  const double rate = load.RatesAt(kStart + absl::Seconds(10)).started;
  EXPECT_GT(rate, 0);
  // Within the smoothing time, silence changes nothing; after it, it fades.
  EXPECT_EQ(load.RatesAt(kStart + absl::Seconds(40)).started, rate);
  EXPECT_LT(load.RatesAt(kStart + absl::Minutes(5)).started, rate * 0.01);
  // A report of zeros is a real measurement: the rate drops.
  ClientLoad zeros(kStart, absl::Seconds(30));
  ASSERT_THAT(zeros.Add(Report(1000, 1000), kStart + absl::Seconds(10)), IsOk());
  ASSERT_THAT(zeros.Add(Report(0, 0), kStart + absl::Seconds(20)), IsOk());
  EXPECT_LT(zeros.RatesAt(kStart + absl::Seconds(20)).started, rate);
  EXPECT_EQ(zeros.totals().reports, 2);
}

TEST(ClientLoadTest, NonsenseIsRejectedWholeAndNamed) {
  ClientLoad load(kStart);
  ASSERT_THAT(load.Add(Report(10, 10), kStart + absl::Seconds(10)), IsOk());
  const CallRates before = load.RatesAt(kStart + absl::Seconds(10));
  EXPECT_THAT(load.Add(Report(-4, 1), kStart + absl::Seconds(20)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_calls_started=-4")));
  EXPECT_THAT(
      load.Add(Report(1, 1, std::numeric_limits<int64_t>::max()), kStart + absl::Seconds(30)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("calls_finished_with_drop")));
  // Ten billion calls in ten seconds: no client does that.
  EXPECT_THAT(load.Add(Report(int64_t{10'000'000'000}, 0), kStart + absl::Seconds(40)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than any client")));
  LoadReport future = Report(1, 1);
  future.sent = kStart + absl::Hours(3);
  EXPECT_THAT(load.Add(future, kStart + absl::Seconds(50)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("in the future")));
  EXPECT_EQ(load.totals().reports, 1);
  EXPECT_EQ(load.totals().rejected_reports, 4);
  EXPECT_EQ(load.totals().calls_started, 10);
  EXPECT_EQ(load.totals().calls_dropped, 0);
  EXPECT_EQ(load.last_report(), kStart + absl::Seconds(10));
  EXPECT_EQ(load.RatesAt(kStart + absl::Seconds(10)).started, before.started);
  // A timestamp a little ahead (clock skew) is fine.
  LoadReport skewed = Report(1, 1);
  skewed.sent = kStart + absl::Seconds(90);
  EXPECT_THAT(load.Add(skewed, kStart + absl::Seconds(60)), IsOk());
}

TEST(ClientLoadTest, TokensAreCappedAndTotalsSaturate) {
  ClientLoad load(kStart);
  LoadReport report;
  report.calls_started = report.calls_finished = 40;  // drops count as both
  for (int i = 0; i < 40; ++i) report.drops.emplace_back("token-" + std::to_string(i), 1);
  ASSERT_THAT(load.Add(report, kStart + absl::Seconds(10)), IsOk());
  EXPECT_EQ(load.drops_by_token().size(), ClientLoad::kMaxTokens + 1);
  EXPECT_EQ(load.drops_by_token().at(ClientLoad::kOtherToken), 40 - 16);
  EXPECT_EQ(load.totals().calls_dropped, 40);
}

TEST(ClientLoadTest, CountsThatContradictEachOtherAreRejected) {
  ClientLoad load(kStart);
  absl::Time now = kStart;
  auto add = [&](LoadReport report) {
    now += absl::Seconds(10);
    return load.Add(report, now);
  };
  LoadReport report;
  report.calls_started = 1000;
  report.calls_finished = 900;  // 100 still open
  ASSERT_THAT(add(report), IsOk());
  // Finishing what was open, and what a counter race explains, is fine.
  report.calls_started = 0;
  report.calls_finished = 200;
  EXPECT_THAT(add(report), IsOk());
  // More finished than started and open, far beyond any race.
  report.calls_finished = 100000;
  EXPECT_THAT(add(report), StatusIs(absl::StatusCode::kInvalidArgument,
                                    HasSubstr("num_calls_finished=100000 is more than")));
  // More dropped, or failed and known received, than finished.
  LoadReport drops;
  drops.calls_started = drops.calls_finished = 10;
  drops.drops = {{"jawlb-overload", 5000}};
  EXPECT_THAT(add(drops), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dropped")));
  LoadReport subsets;
  subsets.calls_started = subsets.calls_finished = 10;
  subsets.calls_known_received = 5000;
  EXPECT_THAT(add(subsets),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exceed num_calls_finished")));
  // A drop sum that would overflow, each entry within bounds after a very
  // long silence (a stream that lives for ages).
  LoadReport overflow;
  overflow.calls_started = overflow.calls_finished = 1;
  for (int i = 0; i < 64; ++i) overflow.drops.emplace_back("t" + std::to_string(i), 1LL << 58);
  now += absl::Hours(24 * 365 * 1000);
  EXPECT_THAT(load.Add(overflow, now),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overflows")));
  EXPECT_EQ(load.totals().reports, 2);
  EXPECT_EQ(load.totals().rejected_reports, 4);
}

TEST(ClientLoadTest, TimestampsMoreThanADayOldAreRejected) {
  ClientLoad load(kStart);
  LoadReport ancient;
  ancient.sent = absl::FromUnixSeconds(-62135596800);  // 0001-01-01
  EXPECT_THAT(load.Add(ancient, kStart + absl::Seconds(10)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than a day old")));
  LoadReport late;
  late.sent = kStart - absl::Hours(1);  // a clock an hour behind is only skew
  EXPECT_THAT(load.Add(late, kStart + absl::Seconds(20)), IsOk());
}

}  // namespace
}  // namespace jawlb::balancer
