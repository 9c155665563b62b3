// Health checks as a Source around another, against an in-process backend.
#include "health/health_checked_source.h"

#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/echo_backend.h"
#include "tests/common/status_matchers.h"
#include "tests/fakes/fake_source.h"

namespace jawlb::health {
namespace {

using ::jawlb::testing::IsOk;

// Collects the updates; waits for them with a generous deadline.
class Updates {
 public:
  discovery::Source::OnUpdate Callback() {
    return [this](discovery::Update update) {
      absl::MutexLock lock(&mu_);
      updates_.push_back(std::move(update));
    };
  }
  std::vector<discovery::Update> WaitFor(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return updates_.size() >= count; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
    return updates_;
  }

 private:
  absl::Mutex mu_;
  std::vector<discovery::Update> updates_ ABSL_GUARDED_BY(mu_);
};

TEST(HealthCheckedSourceTest, TheCheckerStartsWithTheFirstSetAndPassesTheHealthyOnes) {
  auto backend = testbed::EchoBackend::Start("a", "127.0.0.1", /*health=*/true);
  ASSERT_THAT(backend, IsOk());
  auto owned = std::make_unique<discovery::FakeSource>();
  discovery::FakeSource* inner = owned.get();
  HealthCheckedSource source(std::move(owned), HealthChecker::Options());
  Updates updates;
  ASSERT_THAT(source.Start(updates.Callback()), IsOk());
  EXPECT_EQ(source.checker(), nullptr);  // no thread until there is something to check

  const discovery::BackendSet set({*discovery::ParseBackend((*backend)->address())});
  inner->Deliver(set);
  ASSERT_NE(source.checker(), nullptr);
  const std::vector<discovery::Update> got = updates.WaitFor(1);
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(got.back().status.ok());
  EXPECT_EQ(got.back().backends, set);
  source.Stop();
  EXPECT_TRUE(inner->stopped);
}

TEST(HealthCheckedSourceTest, AMissingServiceCostsNoThreadAndPassesStraightThrough) {
  auto owned = std::make_unique<discovery::FakeSource>();
  discovery::FakeSource* inner = owned.get();
  HealthCheckedSource source(std::move(owned), HealthChecker::Options());
  Updates updates;
  ASSERT_THAT(source.Start(updates.Callback()), IsOk());
  inner->Deliver(discovery::BackendSet(), absl::NotFoundError("service ns/x not found"));
  const std::vector<discovery::Update> got = updates.WaitFor(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(source.checker(), nullptr);
  // Nothing after the end: a later set starts no checker.
  inner->Deliver(discovery::BackendSet());
  EXPECT_EQ(source.checker(), nullptr);
}

}  // namespace
}  // namespace jawlb::health
