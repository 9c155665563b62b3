// StreamCount: how many streams of a service still hold their call, so the
// service can wait for none before its completion queues close.
//
// Threading: thread-safe.
#ifndef JAWLB_TRANSPORT_STREAM_COUNT_H_
#define JAWLB_TRANSPORT_STREAM_COUNT_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace jawlb::transport {

// How many streams still hold their call (from the request for a call until
// everything it started has completed). The service waits for none before it
// shuts its completion queues: an operation started on a shut-down queue
// aborts the process.
class StreamCount {
 public:
  void Add() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++count_;
  }
  void Done() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    --count_;
  }
  int count() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return count_;
  }
  // True when none is left within `timeout`.
  bool WaitForNone(absl::Duration timeout) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](int* count) { return *count == 0; }, &count_),
                                timeout);
  }

 private:
  mutable absl::Mutex mu_;
  int count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_STREAM_COUNT_H_
