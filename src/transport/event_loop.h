// EventLoop: one thread that waits on epoll for its file descriptors, runs
// the tasks other threads post to it, and fires its timers — the thread every
// connection of the transport lives on (one loop per core; a connection stays
// on the loop that accepted it, so its state needs no lock).
//
// Owns its thread, its epoll and wake descriptors and its timers; borrows the
// Watchers registered with it (each must stay alive until Unwatch() or the
// loop's Stop()).
//
// Threading: Post() and InLoop() are thread-safe; Watch/Modify/Unwatch and
// RunAfter/Cancel are called on the loop's thread only (from its tasks,
// timers and watchers). Start() and Stop() on the owner's thread.
#ifndef JAWLB_TRANSPORT_EVENT_LOOP_H_
#define JAWLB_TRANSPORT_EVENT_LOOP_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jawlb::transport {

class EventLoop {
 public:
  using Task = absl::AnyInvocable<void()>;

  // Something with a file descriptor on this loop.
  class Watcher {
   public:
    virtual ~Watcher() = default;
    // `events`: the epoll events that happened (EPOLLIN, EPOLLOUT, EPOLLERR,
    // EPOLLHUP, EPOLLRDHUP). On the loop's thread.
    virtual void OnEvents(uint32_t events) = 0;
  };

  using TimerId = uint64_t;

  explicit EventLoop(std::string name);
  // Stops.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Makes the descriptors and starts the thread. Internal with the system's
  // reason when a descriptor cannot be made.
  absl::Status Start();
  // Runs the tasks posted so far (and those they post), then ends the thread
  // and joins it; tasks posted from other threads later are dropped
  // (destroyed unrun). Not from the loop's own thread. Idempotent.
  void Stop();

  // Runs `task` on the loop's thread, soon, in each thread's posting order
  // (the loop's own posts take no lock). Thread-safe.
  void Post(Task task) ABSL_LOCKS_EXCLUDED(mu_);
  // True on the loop's thread.
  bool InLoop() const { return std::this_thread::get_id() == thread_id_.load(); }

  // Loop thread only. `events`: EPOLLIN / EPOLLOUT / EPOLLRDHUP (edge- or
  // level-triggered as given). Errors: the system's reason.
  absl::Status Watch(int fd, uint32_t events, Watcher* watcher);
  absl::Status Modify(int fd, uint32_t events, Watcher* watcher);
  void Unwatch(int fd);

  // Loop thread only. Runs `task` after `delay` (real time) unless cancelled.
  TimerId RunAfter(absl::Duration delay, Task task);
  // A timer that already ran, or an unknown id, is ignored.
  void Cancel(TimerId id);

 private:
  void Run();
  // epoll_ctl `op` (ADD or MOD) for `fd`.
  absl::Status Control(int op, int fd, uint32_t events, Watcher* watcher);
  // Runs the posted tasks; false once Stop() asked the loop to end.
  bool RunPosted() ABSL_LOCKS_EXCLUDED(mu_);
  // Fires the timers due; the time to the next one in milliseconds (-1: none).
  int FireTimers();

  // Constant after construction.
  const std::string name_;

  // The owner's.
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;

  // Set by Start(), read by every thread after.
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<std::thread::id> thread_id_{};

  // The loop thread's.
  std::multimap<absl::Time, TimerId> timer_order_;
  std::map<TimerId, std::pair<absl::Time, Task>> timers_;
  TimerId next_timer_ = 1;
  std::vector<Task> local_;  // posted on the loop's thread

  absl::Mutex mu_;
  std::vector<Task> posted_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_EVENT_LOOP_H_
