// ServiceUnit and ServiceResolver: what a stream is served from when one jawlb
// serves many services (JAWLB_MODE=multi, docs/multi-service.md). A resolver
// turns the name a client dialed into the unit of the service it means — its
// Hub — or refuses with the status the stream ends with (PERMISSION_DENIED,
// NOT_FOUND, ...). Streams hold their unit for as long as they live, so its
// owner can tell a service in use from an idle one by the unit's use count.
//
// Threading: a resolver is called on completion-queue threads and must not
// block; a unit's Hub is thread-safe.
#ifndef JAWLB_GRPCLB_SERVICE_UNIT_H_
#define JAWLB_GRPCLB_SERVICE_UNIT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "common/metrics.h"
#include "grpclb/hub.h"
#include "grpclb/load_shedding.h"
#include "grpclb/subset_policy.h"
#include "k8s/api_monitor.h"

namespace jawlb::grpclb {

class ServiceUnit {
 public:
  virtual ~ServiceUnit() = default;
  // The service's lists.
  virtual Hub& hub() = 0;
  // "namespace/name".
  virtual const std::string& key() const = 0;
  // The service's own subset policy and load shedding (JAWLB_MAXSERVERS,
  // JAWLB_MAXRPSPERBACKEND), which its streams use instead of the service-wide
  // ones; null: none.
  virtual SubsetPolicy* policy() { return nullptr; }
  virtual LoadShedding* shedding() { return nullptr; }
  // What the service's health checks do now (JAWLB_HEALTHCHECK=grpc), for
  // metrics and /debug/state; nullopt without them. Thread-safe.
  struct Health {
    size_t failing = 0;  // backends out of the list (or that would be, in panic)
    bool panic = false;
  };
  virtual std::optional<Health> health() const { return std::nullopt; }
  // What its Kubernetes watch counts (lists, events, restarts, errors, last
  // sync); null when it has none.
  virtual const k8s::WatchStats* watch_stats() const { return nullptr; }
  // From the watch event's arrival to each write of the list to a client of
  // this service (the service's share of jawlb_list_propagation_seconds).
  metrics::Histogram& propagation() { return propagation_; }
  // Stops feeding the Hub and lets go of the wake runner, on the caller's
  // thread (its owner's, never a completion-queue thread: streams may still
  // hold the unit, and its last holder must have nothing heavy left to do).
  // Idempotent.
  virtual void Stop() {}

 private:
  metrics::Histogram propagation_{metrics::Histogram::LatencyBounds()};
};

// The unit of the service a client's `name` means; `peer` is the client's
// address (without the port), which bounds what one client may start.
using ServiceResolver = std::function<absl::StatusOr<std::shared_ptr<ServiceUnit>>(
    absl::string_view name, absl::string_view peer)>;

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_SERVICE_UNIT_H_
