// Readiness: whether this replica should get new clients. Ready once the source
// has delivered its first complete list, and no longer once draining starts.
// Mirrors itself into gRPC's health service (grpc.health.v1.Health), overall
// and for grpc.lb.v1.LoadBalancer, so Kubernetes' gRPC probes see the same;
// "jawlb.liveness" is SERVING whenever the server answers (for liveness probes).
//
// Threading: thread-safe. MarkListed() runs on the source's thread,
// AttachHealth() and StartDraining() on the main thread, Ready() anywhere.
#ifndef JAWLB_APP_READINESS_H_
#define JAWLB_APP_READINESS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/health_check_service_interface.h"

namespace jawlb::app {

class Readiness {
 public:
  // The first complete list has arrived.
  void MarkListed() ABSL_LOCKS_EXCLUDED(mu_);
  // From now on, keep `health` in step. It must outlive this object's use.
  void AttachHealth(grpc::HealthCheckServiceInterface* health) ABSL_LOCKS_EXCLUDED(mu_);
  // Not ready any more, for good.
  void StartDraining() ABSL_LOCKS_EXCLUDED(mu_);

  // "" when ready, else why not.
  std::string NotReadyReason() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  bool listed_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace jawlb::app

#endif  // JAWLB_APP_READINESS_H_
