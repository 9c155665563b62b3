// Eventually: how a test waits for something another thread or process does —
// it polls `condition` until it holds, or gives up after a generous `timeout`
// (CI runs on a busy 2-core machine beside a sanitizer build). Never a fixed
// sleep.
#ifndef JAWLB_TESTS_COMMON_EVENTUALLY_H_
#define JAWLB_TESTS_COMMON_EVENTUALLY_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace jawlb::testing {

// True once `condition` holds; false if it still does not after `timeout`.
inline bool Eventually(const std::function<bool()>& condition,
                       absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

}  // namespace jawlb::testing

#endif  // JAWLB_TESTS_COMMON_EVENTUALLY_H_
