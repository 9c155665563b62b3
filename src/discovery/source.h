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

namespace jawlb::discovery {

class Source {
 public:
  // Receives each complete set, in order, never a partial one: after an error
  // the source stays silent and the last good set stays in force. `observed` is
  // when the source saw the change (a watch event's arrival, a file's poll).
  using OnUpdate = std::function<void(BackendSet, absl::Time observed)>;

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
  // How many API objects describe the service (EndpointSlices, or its
  // Endpoints object), once the first complete list is in; nullopt before, or
  // for sources that have no such thing. Zero means the service has none: it
  // does not exist (or has no selector and no hand-made slices).
  virtual std::optional<size_t> ObjectCount() const { return std::nullopt; }
};

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_SOURCE_H_
