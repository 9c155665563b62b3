// HealthChecker: JAWLB_HEALTHCHECK=grpc. Watches grpc.health.v1.Health/Watch on
// every backend Kubernetes lists and passes on only the healthy ones, as
// decided by balancer::HealthTracker (removal at once, readmission after a
// doubling hold, panic above half failing). It sits between the source and the
// Hub: the source's sets go in through SetBackends(), the filtered sets come
// out through the `publish` callback.
//
// Verdicts: SERVING is healthy; NOT_SERVING, UNKNOWN and SERVICE_UNKNOWN are
// not; a watch that fails or ends (connection refused, the backend shutting
// down) makes the backend unreachable, and it is watched again after a backoff
// (1 s doubling to 10 s). A backend without the health service (UNIMPLEMENTED)
// is trusted as serving, with a warning, as gRPC's own client-side health
// checking does.
//
// Threading: one thread of its own runs a completion queue with every watch,
// the tracker and the timers; SetBackends() and the accessors are thread-safe.
// `publish` is called on that thread, never concurrently.
#ifndef JAWLB_HEALTH_HEALTH_CHECKER_H_
#define JAWLB_HEALTH_HEALTH_CHECKER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"

#include "balancer/health_tracker.h"
#include "common/metrics.h"
#include "discovery/backend_set.h"

namespace jawlb::health {

class HealthChecker {
 public:
  struct Options {
    std::string service;  // the name asked for in HealthCheckRequest ("": the whole server)
    absl::Duration retry_min = absl::Seconds(1);
    absl::Duration retry_max = absl::Seconds(10);
    balancer::HealthTracker::Options tracker;
  };
  using Publish = std::function<void(discovery::BackendSet backends, absl::Time observed)>;

  // A checker with its thread started. ResourceExhausted when the thread
  // cannot be started (the process is at its thread limit): an error for the
  // caller's service, never an abort.
  static absl::StatusOr<std::unique_ptr<HealthChecker>> Start(Options options, Publish publish);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // The backends Kubernetes lists (observed at `observed`). The usable ones
  // are published at once; new backends count as healthy until checked.
  void SetBackends(discovery::BackendSet backends, absl::Time observed) ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels every watch and joins the thread. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Each backend's health, as of the thread's last step.
  std::vector<balancer::HealthTracker::Entry> Describe() const ABSL_LOCKS_EXCLUDED(mu_);
  bool panic() const ABSL_LOCKS_EXCLUDED(mu_);
  // Backends out of the list for failing checks (or that would be, in panic).
  size_t failing() const ABSL_LOCKS_EXCLUDED(mu_);
  void WriteMetrics(metrics::TextWriter& out) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  HealthChecker(Options options, Publish publish);
  class Watch;
  struct Command {
    discovery::BackendSet backends;
    absl::Time observed;
  };

  void Run();
  // When the thread should wake without a completion.
  absl::Time NextDeadline() const;
  // Applies the queued backend sets (returns when the newest was observed,
  // if there was one) and a requested stop.
  std::optional<absl::Time> TakeCommands();
  void StartDueRetries();
  // Applies a new backend set: starts and cancels watches.
  void Apply(const Command& command);
  void StartWatch(const discovery::Backend& backend);
  // A watch's operation completed.
  void OnWatchEvent(Watch* watch, bool ok);
  // Folds what changed into the tracker's verdicts, logs transitions and
  // publishes when the usable set changed.
  void Settle(absl::Time observed);
  void Observe(const discovery::Backend& backend, balancer::HealthTracker::Verdict verdict,
               std::string detail);

  const Options options_;
  const Publish publish_;
  grpc::CompletionQueue cq_;

  // The thread's own state.
  balancer::HealthTracker tracker_;
  discovery::BackendSet set_;  // the newest (for weights and zones)
  std::map<discovery::Backend, std::shared_ptr<grpc::Channel>> channels_;
  std::map<Watch*, std::unique_ptr<Watch>> watches_;  // every call not yet finished
  std::map<discovery::Backend, Watch*> active_;       // the live watch of each backend
  std::map<discovery::Backend, absl::Time> retry_at_;
  std::map<discovery::Backend, int> failures_;
  std::set<discovery::Backend> warned_unimplemented_;
  std::optional<discovery::BackendSet> published_;
  std::set<discovery::Backend> removed_;
  bool panicking_ = false;
  bool stopping_ = false;

  mutable absl::Mutex mu_;
  std::vector<Command> commands_ ABSL_GUARDED_BY(mu_);
  bool stop_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_pending_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Alarm wake_ ABSL_GUARDED_BY(mu_);
  std::vector<balancer::HealthTracker::Entry> described_ ABSL_GUARDED_BY(mu_);
  bool panic_ ABSL_GUARDED_BY(mu_) = false;

  metrics::Counter removals_;
  metrics::Counter readmissions_;
  metrics::Counter panics_;
  metrics::Gauge watching_;

  std::thread thread_;
};

}  // namespace jawlb::health

#endif  // JAWLB_HEALTH_HEALTH_CHECKER_H_
