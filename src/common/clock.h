// Clock: where code reads the time. Parts that decide by time — the service
// directory's idle drop, the subset policy's replans, load shedding's
// evaluations, each client's load smoothing — take a `const Clock&`, so their
// tests run in virtual time (FakeClock, tests/fakes/fake_clock.h). Pure
// policies (balancer/) take the time as an argument instead.
//
// Clock::Real() is the process's clock, and the only place that reads
// absl::Now(). Code whose time is tied to real I/O (sockets, alarms, curl
// timers, files) reads Clock::Real() directly.
//
// Threading: Now() is thread-safe.
#ifndef JAWLB_COMMON_CLOCK_H_
#define JAWLB_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace jawlb {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;

  // The process's clock.
  static const Clock& Real();
};

namespace clock_internal {
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};
}  // namespace clock_internal

inline const Clock& Clock::Real() {
  static const clock_internal::SystemClock* const kSystem = new clock_internal::SystemClock();
  return *kSystem;
}

}  // namespace jawlb

#endif  // JAWLB_COMMON_CLOCK_H_
