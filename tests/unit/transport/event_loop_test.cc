#include "transport/event_loop.h"

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"

namespace jawlb::transport {
namespace {

using ::jawlb::testing::IsOk;

constexpr absl::Duration kWait = absl::Seconds(30);

TEST(EventLoopTest, PostedTasksRunOnTheLoopInOrder) {
  EventLoop loop("test");
  ASSERT_THAT(loop.Start(), IsOk());
  EXPECT_FALSE(loop.InLoop());
  std::vector<int> seen;  // the loop's
  absl::Notification done;
  std::vector<std::thread> posters;
  for (int t = 0; t < 4; ++t) {
    posters.emplace_back([&loop, &seen, t] {
      for (int i = 0; i < 100; ++i) {
        loop.Post([&seen, &loop, t, i] {
          EXPECT_TRUE(loop.InLoop());
          seen.push_back(t * 1000 + i);
        });
      }
    });
  }
  for (std::thread& poster : posters) poster.join();
  loop.Post([&done] { done.Notify(); });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  ASSERT_EQ(seen.size(), 400u);
  // Each thread's tasks ran in the order it posted them.
  std::vector<int> last(4, -1);
  for (int value : seen) {
    EXPECT_GT(value % 1000, last[value / 1000]);
    last[value / 1000] = value % 1000;
  }
  loop.Stop();
}

TEST(EventLoopTest, TimersFireInTimeOrderUnlessCancelled) {
  EventLoop loop("test");
  ASSERT_THAT(loop.Start(), IsOk());
  std::vector<std::string> fired;
  absl::Notification done;
  loop.Post([&] {
    loop.RunAfter(absl::Milliseconds(30), [&] { fired.push_back("30ms"); });
    const EventLoop::TimerId cancelled =
        loop.RunAfter(absl::Milliseconds(10), [&] { fired.push_back("cancelled"); });
    loop.RunAfter(absl::Milliseconds(1), [&] { fired.push_back("1ms"); });
    loop.RunAfter(absl::Milliseconds(60), [&] { done.Notify(); });
    loop.Cancel(cancelled);
    loop.Cancel(12345);  // unknown: ignored
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kWait));
  EXPECT_THAT(fired, ::testing::ElementsAre("1ms", "30ms"));
  loop.Stop();
}

// A pipe's read end on the loop: its watcher hears each write.
class PipeReader : public EventLoop::Watcher {
 public:
  explicit PipeReader(int fd) : fd_(fd) {}
  void OnEvents(uint32_t events) override {
    if ((events & EPOLLIN) == 0) return;
    char buffer[64];
    const ssize_t n = read(fd_, buffer, sizeof(buffer));
    if (n > 0) got_.append(buffer, static_cast<size_t>(n));
    if (got_ == "hello") done_.Notify();
  }
  absl::Notification& done() { return done_; }

 private:
  const int fd_;
  std::string got_;
  absl::Notification done_;
};

TEST(EventLoopTest, WatchersHearTheirDescriptors) {
  EventLoop loop("test");
  ASSERT_THAT(loop.Start(), IsOk());
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  PipeReader reader(fds[0]);
  absl::Notification watching;
  loop.Post([&] {
    EXPECT_THAT(loop.Watch(fds[0], EPOLLIN, &reader), IsOk());
    watching.Notify();
  });
  ASSERT_TRUE(watching.WaitForNotificationWithTimeout(kWait));
  ASSERT_EQ(write(fds[1], "hel", 3), 3);
  ASSERT_EQ(write(fds[1], "lo", 2), 2);
  ASSERT_TRUE(reader.done().WaitForNotificationWithTimeout(kWait));
  absl::Notification unwatched;
  loop.Post([&] {
    loop.Unwatch(fds[0]);
    unwatched.Notify();
  });
  ASSERT_TRUE(unwatched.WaitForNotificationWithTimeout(kWait));
  loop.Stop();
  close(fds[0]);
  close(fds[1]);
}

// A task that posts itself again on the loop (a connection with more to
// read) must not keep the loop from its other descriptors.
TEST(EventLoopTest, ATaskThatPostsItselfDoesNotStarveTheWatchers) {
  EventLoop loop("test");
  ASSERT_THAT(loop.Start(), IsOk());
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  PipeReader reader(fds[0]);
  std::atomic<bool> spinning{true};
  std::function<void()> spin = [&] {
    if (spinning.load()) loop.Post(spin);
  };
  absl::Notification watching;
  loop.Post([&] {
    EXPECT_THAT(loop.Watch(fds[0], EPOLLIN, &reader), IsOk());
    spin();
    watching.Notify();
  });
  ASSERT_TRUE(watching.WaitForNotificationWithTimeout(kWait));
  ASSERT_EQ(write(fds[1], "hello", 5), 5);
  EXPECT_TRUE(reader.done().WaitForNotificationWithTimeout(kWait));
  spinning = false;
  absl::Notification unwatched;
  loop.Post([&] {
    loop.Unwatch(fds[0]);
    unwatched.Notify();
  });
  ASSERT_TRUE(unwatched.WaitForNotificationWithTimeout(kWait));
  loop.Stop();
  close(fds[0]);
  close(fds[1]);
}

TEST(EventLoopTest, StopRunsWhatWasPostedAndDropsTheRest) {
  EventLoop loop("test");
  ASSERT_THAT(loop.Start(), IsOk());
  int ran = 0;
  for (int i = 0; i < 10; ++i) loop.Post([&ran] { ++ran; });
  loop.Stop();
  EXPECT_EQ(ran, 10);
  loop.Post([&ran] { ++ran; });  // after the stop: dropped
  EXPECT_EQ(ran, 10);
  loop.Stop();  // idempotent
}

}  // namespace
}  // namespace jawlb::transport
