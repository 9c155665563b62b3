// Heartbeat: whether a thread is still making progress, for the liveness
// probe. The watched thread calls Beat() as it works (at least every second or
// so) and ExpectSilence(d) before it waits on purpose for a known time (a
// backoff); anyone may ask Stuck(now). A thread is stuck when it has neither
// beaten within `tolerance` nor is inside a wait it announced.
//
// Threading: thread-safe (two relaxed atomics).
#ifndef JAWLB_COMMON_HEARTBEAT_H_
#define JAWLB_COMMON_HEARTBEAT_H_

#include <atomic>
#include <cstdint>

#include "absl/time/time.h"

#include "common/clock.h"

namespace jawlb {

class Heartbeat {
 public:
  explicit Heartbeat(absl::Duration tolerance, absl::Time now = Clock::Real().Now())
      : tolerance_(tolerance),
        last_beat_ns_(absl::ToUnixNanos(now)),
        deadline_ns_(absl::ToUnixNanos(now + tolerance)) {}

  void Beat(absl::Time now = Clock::Real().Now()) {
    last_beat_ns_.store(absl::ToUnixNanos(now), std::memory_order_relaxed);
    deadline_ns_.store(absl::ToUnixNanos(now + tolerance_), std::memory_order_relaxed);
  }
  void ExpectSilence(absl::Duration wait, absl::Time now = Clock::Real().Now()) {
    last_beat_ns_.store(absl::ToUnixNanos(now), std::memory_order_relaxed);
    deadline_ns_.store(absl::ToUnixNanos(now + wait + tolerance_), std::memory_order_relaxed);
  }

  bool Stuck(absl::Time now) const {
    return absl::ToUnixNanos(now) > deadline_ns_.load(std::memory_order_relaxed);
  }
  absl::Time last_beat() const {
    return absl::FromUnixNanos(last_beat_ns_.load(std::memory_order_relaxed));
  }

 private:
  const absl::Duration tolerance_;
  std::atomic<int64_t> last_beat_ns_;
  std::atomic<int64_t> deadline_ns_;
};

}  // namespace jawlb

#endif  // JAWLB_COMMON_HEARTBEAT_H_
