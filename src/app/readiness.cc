#include "app/readiness.h"

namespace jawlb::app {
namespace {

constexpr char kLoadBalancerService[] = "grpc.lb.v1.LoadBalancer";
// For liveness probes: SERVING whenever the gRPC server answers at all, so an
// API server outage (not ready) never gets replicas restarted.
constexpr char kLivenessService[] = "jawlb.liveness";

}  // namespace

void Readiness::MarkListed() {
  absl::MutexLock lock(&mu_);
  if (listed_) return;
  listed_ = true;
  Publish();
}

void Readiness::AttachHealth(grpc::HealthCheckServiceInterface* health) {
  absl::MutexLock lock(&mu_);
  health_ = health;
  health_->SetServingStatus(kLivenessService, true);
  Publish();
}

void Readiness::StartDraining() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  Publish();
}

std::string Readiness::NotReadyReason() const {
  absl::MutexLock lock(&mu_);
  if (draining_) return "draining: shutting down";
  if (!listed_) return "no complete backend list from the source yet";
  return "";
}

void Readiness::Publish() {
  if (health_ == nullptr) return;
  // SetServingStatus only records the status and notifies watchers; it does not
  // call back into us, so holding mu_ keeps the order of updates.
  const bool serving = listed_ && !draining_;
  // By name: the SetServingStatus(bool) overload would set every service,
  // jawlb.liveness included. The server's overall status ("") changes last, so
  // whoever saw it change finds the named service changed too.
  health_->SetServingStatus(kLoadBalancerService, serving);
  health_->SetServingStatus("", serving);
}

}  // namespace jawlb::app
