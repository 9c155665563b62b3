// LogThrottle: whether a warning that one offender (a client, a file, a watch)
// can repeat at will is worth a log line now. The first occurrence is logged;
// after it, at most one line per `every`, saying how many were left out in
// between. So a client sending garbage in a loop writes a line a minute, not a
// line a message, and nothing it does is hidden: the line counts the rest.
//
// Threading: LogThrottle is thread-compatible (the owner's lock, or one
// thread), SharedLogThrottle thread-safe. Pure: time is passed in.
#ifndef JAWLB_COMMON_LOG_THROTTLE_H_
#define JAWLB_COMMON_LOG_THROTTLE_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jawlb {

class LogThrottle {
 public:
  explicit LogThrottle(absl::Duration every = absl::Minutes(1)) : every_(every) {}

  // True when this occurrence, at `now`, should be logged; then `suppressed`
  // is how many occurrences since the last logged one were not.
  bool Allow(absl::Time now, int64_t& suppressed) {
    if (now - last_ < every_) {
      ++suppressed_;
      return false;
    }
    last_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  absl::Duration every_;
  absl::Time last_ = absl::InfinitePast();
  int64_t suppressed_ = 0;
};

// A LogThrottle shared by many offenders of one kind (every stream of the
// service): thread-safe.
class SharedLogThrottle {
 public:
  explicit SharedLogThrottle(absl::Duration every) : throttle_(every) {}
  bool Allow(absl::Time now, int64_t& suppressed) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return throttle_.Allow(now, suppressed);
  }

 private:
  absl::Mutex mu_;
  LogThrottle throttle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jawlb

#endif  // JAWLB_COMMON_LOG_THROTTLE_H_
