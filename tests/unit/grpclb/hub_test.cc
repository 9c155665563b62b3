#include "grpclb/hub.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "grpclb/server_list.h"
#include "transport/grpc_message.h"

namespace jawlb::grpclb {
namespace {

discovery::BackendSet Set(const char* text) { return *discovery::ParseBackendList(text); }

class CountingSubscriber : public Hub::Subscriber {
 public:
  void OnHubChanged() override { wakes.fetch_add(1); }
  std::atomic<int> wakes{0};
};

// A WakeRunner that holds the wakes until the test runs them, as a busy
// completion-queue thread would.
class HeldWakes {
 public:
  Hub::WakeRunner Runner() {
    return [this](size_t shard, std::function<void()> wake) {
      absl::MutexLock lock(&mu_);
      shards_.push_back(shard);
      wakes_.push_back(std::move(wake));
    };
  }
  // Runs what is held; returns the shards they were for.
  std::vector<size_t> RunAll() {
    std::vector<std::function<void()>> wakes;
    std::vector<size_t> shards;
    {
      absl::MutexLock lock(&mu_);
      wakes.swap(wakes_);
      shards.swap(shards_);
    }
    for (auto& wake : wakes) wake();
    std::sort(shards.begin(), shards.end());
    return shards;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::function<void()>> wakes_ ABSL_GUARDED_BY(mu_);
  std::vector<size_t> shards_ ABSL_GUARDED_BY(mu_);
};

TEST(HubTest, ShardsAreWokenOnceEachThroughTheRunnerAndQuickChangesFold) {
  Hub hub(3);
  HeldWakes held;
  hub.SetWakeRunner(held.Runner());
  std::vector<std::shared_ptr<CountingSubscriber>> subscribers;
  std::vector<std::unique_ptr<Hub::Subscription>> subscriptions;
  for (size_t i = 0; i < 7; ++i) {  // shards 0,1,2,0,1,2,0
    subscribers.push_back(std::make_shared<CountingSubscriber>());
    subscriptions.push_back(hub.Subscribe(subscribers.back(), i));
  }
  EXPECT_EQ(hub.subscriber_count(), 7u);

  hub.Publish(Set("10.0.0.1:80"));
  hub.Publish(Set("10.0.0.2:80"));  // before the wakes ran: folded into them
  hub.Publish(Set("10.0.0.3:80"));
  for (const auto& s : subscribers) EXPECT_EQ(s->wakes, 0);  // nothing inline
  EXPECT_THAT(held.RunAll(), ::testing::ElementsAre(0, 1, 2));
  for (const auto& s : subscribers) EXPECT_EQ(s->wakes, 1);

  hub.Close();  // a change after the wakes ran schedules anew
  EXPECT_THAT(held.RunAll(), ::testing::ElementsAre(0, 1, 2));
  for (const auto& s : subscribers) EXPECT_EQ(s->wakes, 2);

  // Back to waking on the publishing thread.
  hub.SetWakeRunner(nullptr);
  hub.Publish(Set("10.0.0.4:80"));
  for (const auto& s : subscribers) EXPECT_EQ(s->wakes, 3);
}

TEST(HubTest, ReplacingTheRunnerWaitsForTheWakesHandedToIt) {
  Hub hub(2);
  HeldWakes held;
  hub.SetWakeRunner(held.Runner());
  auto subscriber = std::make_shared<CountingSubscriber>();
  auto subscription = hub.Subscribe(subscriber, 1);
  hub.Publish(Set("10.0.0.1:80"));
  std::atomic<bool> replaced{false};
  std::thread replace([&] {
    hub.SetWakeRunner(nullptr);
    replaced = true;
  });
  // The replacement waits while a wake is held...
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(replaced);
  // ...and returns once it has run.
  held.RunAll();
  replace.join();
  EXPECT_TRUE(replaced);
  EXPECT_EQ(subscriber->wakes, 1);
}

TEST(HubTest, NothingBeforeTheFirstList) {
  Hub hub;
  EXPECT_EQ(hub.Latest(), nullptr);
  EXPECT_FALSE(hub.Current().closed);
}

TEST(HubTest, PublishNumbersSnapshotsAndSkipsIdenticalSets) {
  Hub hub;
  EXPECT_TRUE(hub.Publish(Set("10.0.0.1:80")));
  const SnapshotPtr first = hub.Latest();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->version, 1u);
  EXPECT_FALSE(hub.Publish(Set("10.0.0.1:80")));
  EXPECT_EQ(hub.Latest(), first);
  EXPECT_TRUE(hub.Publish(Set("10.0.0.1:80 10.0.0.2:80")));
  EXPECT_EQ(hub.Latest()->version, 2u);
  EXPECT_EQ(hub.Latest()->backends.ToString(), "10.0.0.1:80,10.0.0.2:80");
  // Publishing zero backends is a real change (to a drop-only list).
  EXPECT_TRUE(hub.Publish(discovery::BackendSet()));
  EXPECT_EQ(hub.Latest()->version, 3u);
}

TEST(HubTest, ADropShareChangeRepublishesTheSameSetWithDrops) {
  Hub hub;
  hub.SetDropPercent(50);  // before any list: remembered for the first
  ASSERT_TRUE(hub.Publish(Set("10.0.0.1:1 10.0.0.2:1")));
  EXPECT_EQ(hub.Latest()->version, 1u);
  EXPECT_EQ(hub.Latest()->drop_percent, 50);
  hub.SetDropPercent(50);  // no change: nothing published
  EXPECT_EQ(hub.Latest()->version, 1u);
  hub.SetDropPercent(0);
  EXPECT_EQ(hub.Latest()->version, 2u);
  EXPECT_EQ(hub.Latest()->drop_percent, 0);
  EXPECT_EQ(hub.Latest()->backends, Set("10.0.0.1:1 10.0.0.2:1"));
  EXPECT_EQ(hub.Latest()->framed->size() - transport::kMessagePrefixBytes,
            Serialize(MakeServerListResponse(Set("10.0.0.1:1 10.0.0.2:1"))).Length());
}

TEST(HubTest, WakesSubscribersOnPublishAndClose) {
  Hub hub;
  auto a = std::make_shared<CountingSubscriber>();
  auto b = std::make_shared<CountingSubscriber>();
  auto sub_a = hub.Subscribe(a);
  auto sub_b = hub.Subscribe(b);
  EXPECT_EQ(hub.subscriber_count(), 2u);
  hub.Publish(Set("10.0.0.1:80"));
  hub.Publish(Set("10.0.0.1:80"));  // no change: no wake
  EXPECT_EQ(a->wakes, 1);
  EXPECT_EQ(b->wakes, 1);
  sub_b.reset();
  EXPECT_EQ(hub.subscriber_count(), 1u);
  hub.Close();
  EXPECT_TRUE(hub.Current().closed);
  EXPECT_EQ(hub.Current().latest, hub.Latest());
  EXPECT_EQ(a->wakes, 2);
  EXPECT_EQ(b->wakes, 1);
}

TEST(HubTest, SubscribersAreHeldWeakly) {
  Hub hub;
  auto gone = std::make_shared<CountingSubscriber>();
  auto subscription = hub.Subscribe(gone);
  std::weak_ptr<CountingSubscriber> watch = gone;
  gone.reset();
  EXPECT_TRUE(watch.expired());
  hub.Publish(Set("10.0.0.1:80"));  // must not touch the destroyed subscriber
}

TEST(HubTest, ConcurrentPublishSubscribeAndUnsubscribe) {
  Hub hub;
  std::atomic<bool> stop{false};
  std::vector<std::thread> churn;
  for (int t = 0; t < 4; ++t) {
    churn.emplace_back([&hub, &stop] {
      while (!stop.load()) {
        auto subscriber = std::make_shared<CountingSubscriber>();
        auto subscription = hub.Subscribe(subscriber);
        SnapshotPtr latest = hub.Latest();
        if (latest != nullptr) {
          EXPECT_GE(latest->version, 1u);
        }
      }
    });
  }
  for (int i = 0; i < 2000; ++i) {
    hub.Publish(Set(i % 2 == 0 ? "10.0.0.1:80" : "10.0.0.2:80"));
  }
  stop.store(true);
  for (std::thread& thread : churn) thread.join();
  EXPECT_EQ(hub.Latest()->version, 2000u);
  EXPECT_EQ(hub.subscriber_count(), 0u);
}

}  // namespace
}  // namespace jawlb::grpclb
