// Backoff: exponential delays with jitter between retries, capped, reset after
// a success. Jitter spreads the replicas of a fleet so a recovering API server
// is not hit by all of them at once.
//
// Threading: thread-compatible.
#ifndef JAWLB_K8S_BACKOFF_H_
#define JAWLB_K8S_BACKOFF_H_

#include <algorithm>
#include <random>

#include "absl/time/time.h"

namespace jawlb::k8s {

class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration max)
      : initial_(initial), max_(max), next_(initial), random_(std::random_device{}()) {}

  // The delay before the next attempt: `next` ±25%, then `next` doubles up to
  // the cap.
  absl::Duration Next() {
    std::uniform_real_distribution<double> jitter(0.75, 1.25);
    const absl::Duration delay = next_ * jitter(random_);
    next_ = std::min(next_ * 2, max_);
    return std::min(delay, max_);
  }

  // After a success: start small again.
  void Reset() { next_ = initial_; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  absl::Duration next_;
  std::minstd_rand random_;  // 8 bytes: one per watched service
};

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_BACKOFF_H_
