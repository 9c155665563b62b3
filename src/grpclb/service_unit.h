// ServiceUnit: one service's pipeline, the same in every mode. Its Source (a
// Kubernetes watch, a file, a static list; health-checked or not) feeds
// Publish(), which owns the one ordering rule — the subset policy learns the
// set before the Hub wakes the streams — and the unit's Hub hands the encoded
// list to the streams. Its SubsetPolicy (JAWLB_MAXSERVERS) and LoadShedding
// (JAWLB_MAXRPSPERBACKEND) are the ones its streams use.
//
// Single mode is one unit that every name resolves to; multi mode a unit per
// service in use (app/ServiceDirectory). A source's update that says the
// service cannot be served (NotFound: it does not exist; ResourceExhausted:
// its health checks cannot start) closes the Hub with that status, which ends
// the unit's streams with it.
//
// Streams hold their unit (shared_ptr) for as long as they live, so its owner
// tells a service in use from an idle one by the use count.
//
// Owns its source, policy, shedding and Hub. Threading: Start() and Stop() on
// the owner's thread (never a transport thread); Publish() runs on the
// source's threads, serialized by the unit; the accessors are thread-safe.
#ifndef JAWLB_GRPCLB_SERVICE_UNIT_H_
#define JAWLB_GRPCLB_SERVICE_UNIT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

#include "common/clock.h"
#include "common/metrics.h"
#include "discovery/source.h"
#include "grpclb/hub.h"
#include "grpclb/load_shedding.h"
#include "grpclb/subset_policy.h"
#include "health/health_checked_source.h"

namespace jawlb::grpclb {

class ServiceUnit {
 public:
  struct Options {
    // "namespace/name" (a Kubernetes service), "static" or "file": in logs,
    // metrics and /debug/state.
    std::string key;
    size_t max_servers = 0;          // JAWLB_MAXSERVERS (0: one list shared by all)
    double max_rps_per_backend = 0;  // JAWLB_MAXRPSPERBACKEND (0: no shedding)
    size_t max_list_bytes = 0;       // JAWLB_MAXLISTBYTES (0: no bound)
    std::string token_prefix;        // of load_balance_tokens ("": none)
    size_t shards = 1;               // the Hub's: one per transport thread
    // How often at most load reports re-plan the subsets, and re-evaluate
    // the shedding.
    absl::Duration replan_every = SubsetPolicy::kReplanEvery;
    absl::Duration shed_every = LoadShedding::kEvaluateEvery;
    // What the policy and shedding read the time from (borrowed; outlives
    // the unit).
    const Clock* clock = &Clock::Real();
    // Applied to every set before it is published (jawlb's own address left
    // out); null: none. Called on the source's threads.
    std::function<discovery::BackendSet(discovery::BackendSet)> filter;
    // The source itself when it is health-checked (for health()); else null.
    const health::HealthCheckedSource* health = nullptr;
    // Called once, on the source's thread, when the first complete list is
    // published (readiness); null: none. Must not block.
    std::function<void()> on_first_list;
  };

  ServiceUnit(Options options, std::unique_ptr<discovery::Source> source);
  // Stops.
  ~ServiceUnit();
  ServiceUnit(const ServiceUnit&) = delete;
  ServiceUnit& operator=(const ServiceUnit&) = delete;

  // Starts the source; the Hub wakes its streams through `runner` (null: on
  // the publishing thread). Errors: the source's Start() (a malformed file);
  // Unavailable once stopped (a unit stopped before it started never starts).
  absl::Status Start(Hub::WakeRunner runner) ABSL_LOCKS_EXCLUDED(lifecycle_mu_);
  // Stops the source and lets go of the runner (waiting for the wakes handed
  // to it). Streams may still hold the unit: its last holder has nothing
  // heavy left to do. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(lifecycle_mu_);

  const std::string& key() const { return options_.key; }
  Hub& hub() { return hub_; }
  const Hub& hub() const { return hub_; }
  SubsetPolicy& policy() { return policy_; }
  LoadShedding& shedding() { return shedding_; }
  const LoadShedding& shedding() const { return shedding_; }
  const discovery::Source& source() const { return *source_; }
  // From the watch event's arrival to each write of the list (grpclb) or
  // assignment (xDS) to a client of this service.
  metrics::Histogram& propagation() { return propagation_; }
  const metrics::Histogram& propagation() const { return propagation_; }

  // What its health checks do now (JAWLB_HEALTHCHECK=grpc); nullopt without.
  struct Health {
    size_t failing = 0;  // backends out of the list (or that would be, in panic)
    bool panic = false;
  };
  std::optional<Health> health() const;
  // Its health-checked source (each backend's verdict); null without checks.
  const health::HealthCheckedSource* health_checks() const { return options_.health; }

 private:
  // An update from the source (its threads).
  void Publish(discovery::Update update) ABSL_LOCKS_EXCLUDED(publish_mu_);

  // Constant after construction.
  const Options options_;
  const std::unique_ptr<discovery::Source> source_;

  // Thread-safe.
  Hub hub_;
  SubsetPolicy policy_;
  LoadShedding shedding_;
  metrics::Histogram propagation_{metrics::Histogram::LatencyBounds()};

  // Start() and Stop() may race (a directory stopping while a first client
  // starts the unit): the source starts and stops under this lock, and never
  // starts after a stop.
  absl::Mutex lifecycle_mu_;
  bool started_ ABSL_GUARDED_BY(lifecycle_mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(lifecycle_mu_) = false;

  // Serializes Publish(): a health-checked source delivers from two threads.
  // Held while the policy and the Hub take the set, as the Hub's own
  // publishing lock is; nothing they call comes back here.
  absl::Mutex publish_mu_;
  discovery::BackendSet last_ ABSL_GUARDED_BY(publish_mu_);  // for the change log
  bool listed_ ABSL_GUARDED_BY(publish_mu_) = false;
};

// The unit of the service a client's `name` means; `peer` is the client's
// address (without the port), which bounds what one client may start. A
// refusal is the status the stream ends with (PERMISSION_DENIED, NOT_FOUND,
// RESOURCE_EXHAUSTED, UNAVAILABLE while draining). Called on the transport's
// threads: must not block.
using ServiceResolver = std::function<absl::StatusOr<std::shared_ptr<ServiceUnit>>(
    absl::string_view name, absl::string_view peer)>;

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_SERVICE_UNIT_H_
