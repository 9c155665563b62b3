// Source: where BackendSets come from. Implementations: StaticSource
// (static_source.h, JAWLB_ENDPOINTS), FileSource (file_source.h,
// JAWLB_ENDPOINTSFILE) and K8sSource (k8s_source.h). Tests above this seam
// publish BackendSets to the Hub directly; the sources are tested on their own.
//
// Threading: Start() and Stop() are called on the main thread. OnUpdate runs on
// the source's own thread (or inside Start() for the first set); it must not
// block or call back into the Source.
#ifndef JAWLB_DISCOVERY_SOURCE_H_
#define JAWLB_DISCOVERY_SOURCE_H_

#include <functional>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "discovery/backend.h"
#include "discovery/backend_set.h"
#include "k8s/api_monitor.h"

namespace jawlb::discovery {

// What a source delivers: a complete set, or word that the service cannot be
// served at all.
struct Update {
  BackendSet backends;
  // When the source saw the change (a watch event's arrival, a file's poll).
  absl::Time observed;
  // OK; or why there is nothing to serve, said by the source itself:
  // NotFound (K8sSource with Options::missing_is_not_found: the Service has no
  // endpoints objects), ResourceExhausted (a health checker that cannot
  // start). Then `backends` is empty and means nothing.
  absl::Status status;
};

class Source {
 public:
  // Receives each complete set, in order, never a partial one: after an error
  // the source stays silent and the last good set stays in force.
  using OnUpdate = std::function<void(Update)>;

  virtual ~Source() = default;

  // Starts delivery. Fails only for what retrying cannot fix (an unreadable or
  // malformed file at start-up); later errors are logged and retried inside.
  virtual absl::Status Start(OnUpdate on_update) = 0;

  // Stops delivery; no OnUpdate runs after Stop() returns. Idempotent.
  virtual void Stop() = 0;

  // Every endpoint the source knows, with its conditions, used or not, for
  // operators. Empty when the source knows nothing beyond the backends it
  // delivers. Thread-safe: called from any thread.
  virtual std::vector<EndpointState> Endpoints() const { return {}; }
  // What its Kubernetes watch counts (lists, events, restarts, errors, last
  // sync); nullopt for sources that watch nothing. Thread-safe.
  virtual std::optional<k8s::WatchStats::Counts> WatchCounts() const { return std::nullopt; }
};

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_SOURCE_H_
