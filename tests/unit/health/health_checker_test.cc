// HealthChecker against in-process backends serving gRPC's health service.
#include "health/health_checker.h"

#include <memory>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/echo_backend.h"
#include "tests/common/status_matchers.h"

namespace jawlb::health {
namespace {

using discovery::Backend;
using discovery::BackendSet;
using ::jawlb::testing::IsOk;
using testbed::EchoBackend;

constexpr absl::Duration kDeadline = absl::Seconds(30);

class HealthCheckerTest : public ::testing::Test {
 protected:
  void StartBackends(int n, bool health = true) {
    for (int i = 0; i < n; ++i) {
      auto backend = EchoBackend::Start(absl::StrCat("b", i), "127.0.0.1", health);
      ASSERT_THAT(backend, IsOk());
      backends_.push_back(*std::move(backend));
    }
  }

  std::unique_ptr<HealthChecker> StartChecker() {
    HealthChecker::Options options;
    options.tracker.readmit_after = absl::Milliseconds(300);
    options.retry_min = absl::Milliseconds(100);
    options.retry_max = absl::Milliseconds(500);
    absl::StatusOr<std::unique_ptr<HealthChecker>> checker =
        HealthChecker::Start(options, [this](BackendSet set, absl::Time) {
          absl::MutexLock lock(&mu_);
          published_.push_back(std::move(set));
        });
    EXPECT_THAT(checker, IsOk());
    return checker.ok() ? *std::move(checker) : nullptr;
  }

  BackendSet All() const {
    std::vector<Backend> all;
    for (const auto& backend : backends_)
      all.push_back(*discovery::ParseBackend(backend->address()));
    return BackendSet(all);
  }
  BackendSet AllBut(std::initializer_list<size_t> out) const {
    std::vector<Backend> some;
    for (size_t i = 0; i < backends_.size(); ++i) {
      if (std::find(out.begin(), out.end(), i) == out.end()) {
        some.push_back(*discovery::ParseBackend(backends_[i]->address()));
      }
    }
    return BackendSet(some);
  }

  // Waits until the newest published set is `want`.
  bool WaitForPublished(const BackendSet& want) {
    const absl::Time deadline = absl::Now() + kDeadline;
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu_);
        if (!published_.empty() && published_.back() == want) return true;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

  size_t PublishedCount() {
    absl::MutexLock lock(&mu_);
    return published_.size();
  }

  std::vector<std::unique_ptr<EchoBackend>> backends_;
  absl::Mutex mu_;
  std::vector<BackendSet> published_ ABSL_GUARDED_BY(mu_);
};

TEST_F(HealthCheckerTest, NotServingIsRemovedAndComesBackAfterItsHold) {
  StartBackends(3);
  auto checker = StartChecker();
  checker->SetBackends(All(), absl::Now());
  ASSERT_TRUE(WaitForPublished(All()));
  backends_[1]->SetServing(false);
  ASSERT_TRUE(WaitForPublished(AllBut({1})));
  const std::vector<balancer::HealthTracker::Entry> entries = checker->Describe();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(absl::c_count_if(entries, [](const auto& e) { return e.detail == "NOT_SERVING"; }), 1);
  const absl::Time serving_again = absl::Now();
  backends_[1]->SetServing(true);
  ASSERT_TRUE(WaitForPublished(All()));
  EXPECT_GE(absl::Now() - serving_again, absl::Milliseconds(250));  // held, not flapped back
  EXPECT_FALSE(checker->panic());
}

TEST_F(HealthCheckerTest, ABackendThatDiesIsRemovedAndOneWithoutHealthServiceIsTrusted) {
  StartBackends(2);
  StartBackends(1, /*health=*/false);
  auto checker = StartChecker();
  checker->SetBackends(All(), absl::Now());
  ASSERT_TRUE(WaitForPublished(All()));
  backends_[0]->Stop();
  ASSERT_TRUE(WaitForPublished(AllBut({0})));
  // The one with no health service stays, and says why.
  const Backend plain = *discovery::ParseBackend(backends_[2]->address());
  bool trusted = false;
  for (int i = 0; i < 3000 && !trusted; ++i) {
    for (const auto& e : checker->Describe()) {
      if (e.backend == plain && !e.removed && absl::StrContains(e.detail, "UNIMPLEMENTED")) {
        trusted = true;
      }
    }
    if (!trusted) absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(trusted);
}

TEST_F(HealthCheckerTest, MoreThanHalfFailingIsPanicAndEveryBackendIsSent) {
  StartBackends(3);
  auto checker = StartChecker();
  checker->SetBackends(All(), absl::Now());
  ASSERT_TRUE(WaitForPublished(All()));
  backends_[0]->SetServing(false);
  ASSERT_TRUE(WaitForPublished(AllBut({0})));
  backends_[1]->SetServing(false);
  // Two of three out: panic, so all three again (never fewer than half).
  for (int i = 0; i < 3000 && !checker->panic(); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(checker->panic());
  ASSERT_TRUE(WaitForPublished(All()));
  metrics::TextWriter out;
  checker->WriteMetrics(out);
  EXPECT_THAT(out.text(), ::testing::HasSubstr("jawlb_health_panic 1"));
  EXPECT_THAT(out.text(), ::testing::HasSubstr("jawlb_health_backends_failing 2"));
}

TEST_F(HealthCheckerTest, BackendsLeavingAreNoLongerWatchedAndStopIsClean) {
  StartBackends(3);
  auto checker = StartChecker();
  checker->SetBackends(All(), absl::Now());
  ASSERT_TRUE(WaitForPublished(All()));
  checker->SetBackends(AllBut({2}), absl::Now());
  ASSERT_TRUE(WaitForPublished(AllBut({2})));
  EXPECT_EQ(checker->Describe().size(), 2u);
  checker->Stop();
  const size_t published = PublishedCount();
  checker->SetBackends(All(), absl::Now());  // after Stop: ignored
  EXPECT_EQ(PublishedCount(), published);
}

}  // namespace
}  // namespace jawlb::health
