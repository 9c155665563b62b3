// LoadShedding: JAWLB_MAXRPSPERBACKEND around balancer::LoadShedder. Streams
// hand in each client's smoothed calls per second as its load reports arrive;
// at most every `evaluate_every` the summed demand is held against the
// capacity of the backends in the Hub's list, and when the drop share changes
// the Hub republishes every list with that share of drop entries (token
// kOverloadToken). Clients report their drops back per token
// (jawlb_client_calls_dropped_by_token_total{token="jawlb-overload"}).
//
// The capacity is per jawlb replica: each replica sees only its own clients,
// so with R replicas set the limit to what a backend takes divided by R.
//
// Threading: thread-safe (one mutex; the Hub is called with it released).
#ifndef JAWLB_GRPCLB_LOAD_SHEDDING_H_
#define JAWLB_GRPCLB_LOAD_SHEDDING_H_

#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "balancer/client_load.h"
#include "balancer/load_shedder.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "grpclb/hub.h"

namespace jawlb::grpclb {

class LoadShedding {
 public:
  static constexpr absl::Duration kEvaluateEvery = absl::Seconds(1);

  // `max_rps_per_backend`: 0 turns shedding off. Evaluates at most every
  // `evaluate_every` by `clock` (borrowed; outlives this object).
  LoadShedding(double max_rps_per_backend, Hub& hub, absl::Duration evaluate_every = kEvaluateEvery,
               const Clock& clock = Clock::Real())
      : hub_(hub),
        evaluate_every_(evaluate_every),
        clock_(clock),
        shedder_(max_rps_per_backend),
        enabled_(max_rps_per_backend > 0) {}

  bool enabled() const { return enabled_; }
  // A client's load, after its report. Demand is its smoothed calls started
  // per second at each evaluation (fading once the client falls silent).
  void Report(const void* client, const balancer::ClientLoad& load) ABSL_LOCKS_EXCLUDED(mu_);
  // The client is gone: its demand with it.
  void Forget(const void* client) ABSL_LOCKS_EXCLUDED(mu_);
  void WriteMetrics(metrics::TextWriter& out) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Hub& hub_;
  const absl::Duration evaluate_every_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  balancer::LoadShedder shedder_ ABSL_GUARDED_BY(mu_);
  std::map<const void*, balancer::ClientLoad> clients_ ABSL_GUARDED_BY(mu_);
  absl::Time last_evaluation_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  double reported_drop_ratio_ ABSL_GUARDED_BY(mu_) = 0;
  metrics::Counter changes_;
  const bool enabled_;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_LOAD_SHEDDING_H_
