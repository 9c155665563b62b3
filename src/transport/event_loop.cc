#include "transport/event_loop.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"

namespace jawlb::transport {
namespace {

absl::Status SystemError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

EventLoop::EventLoop(std::string name) : name_(std::move(name)) {}

EventLoop::~EventLoop() { Stop(); }

absl::Status EventLoop::Start() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return SystemError("epoll_create1");
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return SystemError("eventfd");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = nullptr;  // the wake descriptor
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
    return SystemError("epoll_ctl(eventfd)");
  }
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void EventLoop::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (started_) {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    const uint64_t one = 1;
    (void)write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  std::vector<Task> dropped;
  {
    absl::MutexLock lock(&mu_);
    dropped.swap(posted_);
  }
  local_.clear();  // the thread is gone
  timers_.clear();
  timer_order_.clear();
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
  wake_fd_ = epoll_fd_ = -1;
}

void EventLoop::Post(Task task) {
  if (InLoop()) {  // no lock and no wake: the loop runs these before it waits
    local_.push_back(std::move(task));
    return;
  }
  bool wake = false;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !InLoop()) return;  // dropped: the loop is ending
    wake = posted_.empty();
    posted_.push_back(std::move(task));
  }
  if (wake && !InLoop()) {
    const uint64_t one = 1;
    (void)write(wake_fd_, &one, sizeof(one));
  }
}

absl::Status EventLoop::Watch(int fd, uint32_t events, Watcher* watcher) {
  return Control(EPOLL_CTL_ADD, fd, events, watcher);
}

absl::Status EventLoop::Modify(int fd, uint32_t events, Watcher* watcher) {
  return Control(EPOLL_CTL_MOD, fd, events, watcher);
}

absl::Status EventLoop::Control(int op, int fd, uint32_t events, Watcher* watcher) {
  epoll_event event{};
  event.events = events;
  event.data.ptr = watcher;
  if (epoll_ctl(epoll_fd_, op, fd, &event) != 0) {
    return SystemError(op == EPOLL_CTL_ADD ? "epoll_ctl(ADD)" : "epoll_ctl(MOD)");
  }
  return absl::OkStatus();
}

void EventLoop::Unwatch(int fd) { (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr); }

EventLoop::TimerId EventLoop::RunAfter(absl::Duration delay, Task task) {
  const TimerId id = next_timer_++;
  const absl::Time when = Clock::Real().Now() + delay;
  timer_order_.emplace(when, id);
  timers_.emplace(id, std::make_pair(when, std::move(task)));
  return id;
}

void EventLoop::Cancel(TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  auto [first, last] = timer_order_.equal_range(it->second.first);
  for (auto at = first; at != last; ++at) {
    if (at->second == id) {
      timer_order_.erase(at);
      break;
    }
  }
  timers_.erase(it);
}

bool EventLoop::RunPosted() {
  std::vector<Task> tasks;
  bool stopping = false;
  {
    absl::MutexLock lock(&mu_);
    tasks.swap(posted_);
    stopping = stopping_;
  }
  for (Task& task : tasks) task();
  // The loop's own posts so far (those they post wait for the next round:
  // a task that posts itself again lets the sockets be polled in between).
  tasks.clear();
  tasks.swap(local_);
  for (Task& task : tasks) task();
  return !stopping;
}

int EventLoop::FireTimers() {
  for (;;) {
    if (timer_order_.empty()) return -1;
    const auto first = timer_order_.begin();
    const absl::Time now = Clock::Real().Now();
    if (first->first > now) {
      // Rounded up: a timer never fires early.
      return static_cast<int>(
          absl::ToInt64Milliseconds(first->first - now + absl::Milliseconds(1)));
    }
    const TimerId id = first->second;
    timer_order_.erase(first);
    auto it = timers_.find(id);
    Task task = std::move(it->second.second);
    timers_.erase(it);
    task();
  }
}

void EventLoop::Run() {
  thread_id_.store(std::this_thread::get_id());
  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  for (;;) {
    if (!RunPosted()) break;
    int timeout = FireTimers();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) continue;
      // Tasks posted meanwhile run next, after a look at the sockets.
      if (!posted_.empty() || !local_.empty()) timeout = 0;
    }
    const int ready = epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      spdlog::error("transport: {}: epoll_wait: {}", name_, std::strerror(errno));
      continue;
    }
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.ptr == nullptr) {
        uint64_t count = 0;
        (void)read(wake_fd_, &count, sizeof(count));
        continue;
      }
      static_cast<Watcher*>(events[i].data.ptr)->OnEvents(events[i].events);
    }
  }
  // What was posted before the stop, and what those tasks post in turn (a
  // closing connection's clean-up), a bounded number of rounds.
  for (int round = 0; round < 100; ++round) {
    {
      absl::MutexLock lock(&mu_);
      if (posted_.empty() && local_.empty()) break;
    }
    RunPosted();
  }
}

}  // namespace jawlb::transport
