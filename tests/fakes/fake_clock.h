// FakeClock: virtual time. Stands still until Advance(); counts how often it
// was read, so a test can wait for a thread that reads it on every pass to
// have made another pass (instead of sleeping).
#ifndef JAWLB_TESTS_FAKES_FAKE_CLOCK_H_
#define JAWLB_TESTS_FAKES_FAKE_CLOCK_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "common/clock.h"

namespace jawlb {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1800000000)) : now_(start) {}

  absl::Time Now() const override ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++reads_;
    return now_;
  }
  void Advance(absl::Duration by) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    now_ += by;
  }
  // How many times Now() has been called.
  uint64_t reads() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return reads_;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  mutable uint64_t reads_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jawlb

#endif  // JAWLB_TESTS_FAKES_FAKE_CLOCK_H_
