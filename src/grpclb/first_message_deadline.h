// FirstMessageDeadline: ends a stream whose client says nothing in time
// (JAWLB_FIRSTMESSAGETIMEOUT): a connection that opens streams and never
// writes on them must not hold a stream's state for ever. A gRPC alarm on the
// stream's completion queue, set when the stream starts; its first message,
// or the end of the call, cancels it (the tag then comes back not ok).
//
// The stream must not be released while pending(): the alarm's tag refers to
// it. Real time (a gRPC alarm); the stream's Clock is not consulted.
//
// Threading: thread-safe; Cancel() is called with the lock released.
#ifndef JAWLB_GRPCLB_FIRST_MESSAGE_DEADLINE_H_
#define JAWLB_GRPCLB_FIRST_MESSAGE_DEADLINE_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"

#include "common/clock.h"

namespace jawlb::grpclb {

class FirstMessageDeadline {
 public:
  // Sets the alarm: `tag` comes back on `cq` after `timeout` (ok) or once
  // Met() (not ok).
  void Set(grpc::CompletionQueue* cq, absl::Duration timeout, void* tag) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      pending_ = true;
    }
    alarm_.Set(cq, absl::ToChronoTime(Clock::Real().Now() + timeout), tag);
  }

  // The first message came (or the call ended). Idempotent.
  void Met() ABSL_LOCKS_EXCLUDED(mu_) {
    bool cancel = false;
    {
      absl::MutexLock lock(&mu_);
      cancel = pending_ && !met_;
      met_ = true;
    }
    if (cancel) alarm_.Cancel();
  }

  // The tag came back: true when the time ran out before Met().
  bool Fired(bool ok) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    pending_ = false;
    return ok && !met_;
  }

  // Set and its tag not back yet.
  bool pending() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return pending_;
  }

 private:
  grpc::Alarm alarm_;
  mutable absl::Mutex mu_;
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  bool met_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_FIRST_MESSAGE_DEADLINE_H_
