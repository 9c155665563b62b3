// HealthCheckedSource: JAWLB_HEALTHCHECK=grpc as a Source. Wraps the source
// that lists the backends and delivers only the healthy ones, as a
// HealthChecker decides: the inner source's sets go into the checker, the
// checker's verdicts come out as this source's updates. An update that says
// the service cannot be served (NotFound) passes straight through.
//
// The checker, and its thread, start with the first set the inner source
// delivers, so a name that turns out to name nothing costs no thread. A
// thread that cannot start is this service's error: one ResourceExhausted
// update, never an abort.
//
// Owns the inner source and the checker. Threading: Start() and Stop() on the
// owner's thread; updates are delivered on the checker's thread (sets) or the
// inner source's (errors); after an error, no set follows. The accessors are
// thread-safe.
#ifndef JAWLB_HEALTH_HEALTH_CHECKED_SOURCE_H_
#define JAWLB_HEALTH_HEALTH_CHECKED_SOURCE_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "discovery/source.h"
#include "health/health_checker.h"

namespace jawlb::health {

class HealthCheckedSource final : public discovery::Source {
 public:
  HealthCheckedSource(std::unique_ptr<discovery::Source> inner, HealthChecker::Options options);
  ~HealthCheckedSource() override;

  // discovery::Source:
  absl::Status Start(OnUpdate on_update) override;
  void Stop() override ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<discovery::EndpointState> Endpoints() const override { return inner_->Endpoints(); }
  std::optional<k8s::WatchStats::Counts> WatchCounts() const override {
    return inner_->WatchCounts();
  }

  // The checker, once started (null before); lives as long as this source
  // (stopped by Stop(), still readable).
  const HealthChecker* checker() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // A set or an error from the inner source (its thread).
  void OnInnerUpdate(discovery::Update update) ABSL_LOCKS_EXCLUDED(mu_);
  // The checker, started on first use; null when its thread cannot start.
  HealthChecker* CheckerOnce() ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const std::unique_ptr<discovery::Source> inner_;
  const HealthChecker::Options options_;

  OnUpdate on_update_;  // set by Start()
  mutable absl::Mutex mu_;
  std::unique_ptr<HealthChecker> checker_ ABSL_GUARDED_BY(mu_);
  // An error was delivered (the service is gone, or the checker could not
  // start): the checker's sets are not passed on any more.
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jawlb::health

#endif  // JAWLB_HEALTH_HEALTH_CHECKED_SOURCE_H_
