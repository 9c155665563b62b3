#include "balancer/health_tracker.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jawlb::balancer {
namespace {

using discovery::Backend;
using Verdict = HealthTracker::Verdict;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kStart = absl::FromUnixSeconds(1000);

Backend B(int i) { return *discovery::MakeBackend(absl::StrCat("10.0.0.", i), 8080); }

std::vector<Backend> Bs(std::initializer_list<int> ids) {
  std::vector<Backend> backends;
  for (int i : ids) backends.push_back(B(i));
  return backends;
}

TEST(HealthTrackerTest, UsableUntilACheckSaysOtherwiseAndRemovedAtOnce) {
  HealthTracker tracker;
  tracker.SetBackends(Bs({1, 2, 3}));
  EXPECT_EQ(tracker.Usable(), Bs({1, 2, 3}));  // no answers yet
  tracker.Observe(B(2), Verdict::kNotServing, "NOT_SERVING", kStart);
  EXPECT_EQ(tracker.Usable(), Bs({1, 3}));
  tracker.Observe(B(3), Verdict::kServing, "SERVING", kStart);
  EXPECT_EQ(tracker.Usable(), Bs({1, 3}));
  EXPECT_FALSE(tracker.panic());
}

TEST(HealthTrackerTest, ComesBackOnlyAfterServingWithoutABreakForTheHold) {
  HealthTracker tracker;
  tracker.SetBackends(Bs({1, 2, 3}));
  tracker.Observe(B(1), Verdict::kUnreachable, "connection refused", kStart);
  tracker.Observe(B(1), Verdict::kServing, "SERVING", kStart + absl::Seconds(5));
  EXPECT_EQ(tracker.NextReadmission(), kStart + absl::Seconds(6));
  tracker.Advance(kStart + absl::Milliseconds(5900));
  EXPECT_EQ(tracker.Usable(), Bs({2, 3}));
  // A break restarts the hold.
  tracker.Observe(B(1), Verdict::kNotServing, "NOT_SERVING", kStart + absl::Milliseconds(5950));
  tracker.Observe(B(1), Verdict::kServing, "SERVING", kStart + absl::Seconds(7));
  tracker.Advance(kStart + absl::Seconds(7));
  EXPECT_EQ(tracker.Usable(), Bs({2, 3}));
  tracker.Advance(kStart + absl::Seconds(8));
  EXPECT_EQ(tracker.Usable(), Bs({1, 2, 3}));
  EXPECT_EQ(tracker.NextReadmission(), absl::InfiniteFuture());
}

TEST(HealthTrackerTest, AFlappingBackendIsHeldOutLongerEachTime) {
  HealthTracker tracker;
  tracker.SetBackends(Bs({1, 2, 3}));
  absl::Time now = kStart;
  std::vector<absl::Duration> holds;
  for (int flap = 0; flap < 8; ++flap) {
    tracker.Observe(B(1), Verdict::kNotServing, "NOT_SERVING", now);
    tracker.Observe(B(1), Verdict::kServing, "SERVING", now);
    holds.push_back(tracker.NextReadmission() - now);
    now = tracker.NextReadmission();
    tracker.Advance(now);
    ASSERT_EQ(tracker.Usable(), Bs({1, 2, 3}));
  }
  EXPECT_THAT(holds, ElementsAre(absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                 absl::Seconds(8), absl::Seconds(16), absl::Seconds(32),
                                 absl::Seconds(60), absl::Seconds(60)));
  // Forgiven after a quiet flap_memory: back to one second.
  now += absl::Minutes(6);
  tracker.Observe(B(1), Verdict::kNotServing, "NOT_SERVING", now);
  tracker.Observe(B(1), Verdict::kServing, "SERVING", now);
  EXPECT_EQ(tracker.NextReadmission() - now, absl::Seconds(1));
}

TEST(HealthTrackerTest, PanicWhenMoreThanHalfFailSendsEveryBackend) {
  HealthTracker tracker;
  tracker.SetBackends(Bs({1, 2, 3, 4}));
  tracker.Observe(B(1), Verdict::kNotServing, "", kStart);
  tracker.Observe(B(2), Verdict::kUnreachable, "", kStart);
  EXPECT_FALSE(tracker.panic());  // half is not more than half
  EXPECT_EQ(tracker.Usable(), Bs({3, 4}));
  tracker.Observe(B(3), Verdict::kNotServing, "", kStart);
  EXPECT_TRUE(tracker.panic());
  EXPECT_EQ(tracker.Usable(), Bs({1, 2, 3, 4}));
  tracker.Observe(B(3), Verdict::kServing, "", kStart);
  tracker.Advance(kStart + absl::Seconds(1));
  EXPECT_FALSE(tracker.panic());
  EXPECT_EQ(tracker.Usable(), Bs({3, 4}));
  // All of them failing: still every backend, never an empty list.
  for (int i : {1, 2, 3, 4}) tracker.Observe(B(i), Verdict::kUnreachable, "", kStart);
  EXPECT_EQ(tracker.Usable(), Bs({1, 2, 3, 4}));
}

TEST(HealthTrackerTest, BackendsThatLeaveAreForgotten) {
  HealthTracker tracker;
  tracker.SetBackends(Bs({1, 2, 3}));
  tracker.Observe(B(1), Verdict::kNotServing, "NOT_SERVING", kStart);
  tracker.SetBackends(Bs({2, 3}));
  tracker.Observe(B(1), Verdict::kNotServing, "late answer", kStart);  // ignored
  tracker.SetBackends(Bs({1, 2, 3}));  // back, as a new pod with the same IP would be
  EXPECT_EQ(tracker.Usable(), Bs({1, 2, 3}));
  tracker.SetBackends({});
  EXPECT_THAT(tracker.Usable(), IsEmpty());
  EXPECT_FALSE(tracker.panic());
}

TEST(HealthTrackerTest, DescribeSaysWhatTheLastCheckSaid) {
  HealthTracker tracker;
  tracker.SetBackends(Bs({1, 2}));
  tracker.Observe(B(2), Verdict::kUnreachable, "UNAVAILABLE: connection refused", kStart);
  const std::vector<HealthTracker::Entry> entries = tracker.Describe();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_FALSE(entries[0].last.has_value());
  EXPECT_FALSE(entries[0].removed);
  EXPECT_EQ(entries[1].last, Verdict::kUnreachable);
  EXPECT_EQ(entries[1].detail, "UNAVAILABLE: connection refused");
  EXPECT_TRUE(entries[1].removed);
  EXPECT_EQ(entries[1].recent_removals, 1);
}

}  // namespace
}  // namespace jawlb::balancer
