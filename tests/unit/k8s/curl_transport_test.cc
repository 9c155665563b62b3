#include "k8s/curl_transport.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/eventually.h"

namespace jawlb::k8s {
namespace {

using ::jawlb::testing::Eventually;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class CurlIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterAccess access;
    access.origin = "test";
    access.server = "http://127.0.0.1:1";  // nothing listens on port 1
    absl::StatusOr<std::unique_ptr<CurlIo>> io = CurlIo::Start(access, &monitor_);
    ASSERT_TRUE(io.ok()) << io.status();
    io_ = *std::move(io);
  }

  ApiMonitor monitor_{absl::Milliseconds(2500)};  // the loop beats once a second
  std::unique_ptr<CurlIo> io_;
};

TEST_F(CurlIoTest, RefusesAServerThatIsNotHttp) {
  ClusterAccess access;
  access.origin = "kubeconfig";
  access.server = "ftp://example";
  EXPECT_THAT(CurlIo::Start(access).status().message(), HasSubstr("not an http(s) URL"));
}

TEST_F(CurlIoTest, TimersRunInOrderOnTheIoThread) {
  std::unique_ptr<HttpTransport> transport = io_->NewTransport();
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  auto record = [&](int n) {
    return [&, n] {
      absl::MutexLock lock(&mu);
      order.push_back(n);
      threads.push_back(std::this_thread::get_id());
    };
  };
  transport->After(absl::Milliseconds(60), record(3));
  transport->After(absl::Milliseconds(30), record(2));
  transport->After(absl::ZeroDuration(), record(1));
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return order.size() == 3;
  }));
  absl::MutexLock lock(&mu);
  EXPECT_THAT(order, ElementsAre(1, 2, 3));
  EXPECT_NE(threads[0], std::this_thread::get_id());
  EXPECT_EQ(threads[0], threads[1]);
  EXPECT_EQ(threads[1], threads[2]);
}

TEST_F(CurlIoTest, ATransportFailureReachesDone) {
  std::unique_ptr<HttpTransport> transport = io_->NewTransport();
  absl::Notification done;
  absl::Status status;
  transport->Get("/api/v1/namespaces", [&](absl::StatusOr<HttpResponse> response) {
    status = response.status();
    done.Notify();
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("GET http://127.0.0.1:1/api/v1/namespaces"));
}

// Cancel() from another thread waits for a callback that is running, and
// nothing of the transport runs afterwards.
TEST_F(CurlIoTest, CancelWaitsForARunningCallbackAndDropsTheRest) {
  std::unique_ptr<HttpTransport> transport = io_->NewTransport();
  absl::Notification entered;
  absl::Notification release;
  std::atomic<bool> callback_done = false;
  std::atomic<bool> late = false;
  transport->After(absl::ZeroDuration(), [&] {
    entered.Notify();
    release.WaitForNotification();
    callback_done = true;
  });
  transport->After(absl::Milliseconds(50), [&] { late = true; });
  transport->Get("/api/v1/namespaces", [&](absl::StatusOr<HttpResponse>) { late = true; });
  ASSERT_TRUE(entered.WaitForNotificationWithTimeout(absl::Seconds(30)));
  std::thread cancel([&] { transport->Cancel(); });
  absl::SleepFor(absl::Milliseconds(20));  // give Cancel() the chance to return too early
  release.Notify();
  cancel.join();
  EXPECT_TRUE(callback_done);
  // The later timer and the request's failure would have come by now.
  absl::Notification probe;
  std::unique_ptr<HttpTransport> other = io_->NewTransport();
  other->After(absl::Milliseconds(200), [&] { probe.Notify(); });
  ASSERT_TRUE(probe.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_FALSE(late);
}

// The liveness probe's view: the loop beats while it waits (no requests, long
// timers), and a callback that blocks the I/O thread shows as stuck.
// A transport made and dropped unused (a service unit that lost the race to
// be made first) has nothing on the I/O thread: dropping it does not wait for
// that thread, even while it is busy.
TEST_F(CurlIoTest, AnUnusedTransportGoesWithoutWaitingForTheIoThread) {
  std::unique_ptr<HttpTransport> busy = io_->NewTransport();
  absl::Notification running;
  absl::Notification release;
  busy->After(absl::ZeroDuration(), [&] {
    running.Notify();
    release.WaitForNotification();
  });
  running.WaitForNotification();  // the I/O thread is held
  io_->NewTransport().reset();    // would hang here if it waited for the loop
  release.Notify();
  busy->Cancel();
}

TEST_F(CurlIoTest, HeartbeatTellsAnIdleLoopFromAStuckOne) {
  std::unique_ptr<HttpTransport> transport = io_->NewTransport();
  transport->After(absl::Minutes(10), [] {});
  for (int i = 0; i < 40; ++i) {  // 4 s: well past the tolerance
    ASSERT_FALSE(monitor_.heartbeat().Stuck(absl::Now())) << i;
    absl::SleepFor(absl::Milliseconds(100));
  }

  absl::Notification release;
  transport->After(absl::ZeroDuration(), [&] { release.WaitForNotification(); });
  EXPECT_TRUE(Eventually([&] { return monitor_.heartbeat().Stuck(absl::Now()); }));
  release.Notify();
  EXPECT_TRUE(Eventually([&] { return !monitor_.heartbeat().Stuck(absl::Now()); }));
  transport->Cancel();
}

}  // namespace
}  // namespace jawlb::k8s
