// ApiMonitor: what the Kubernetes I/O thread is doing, for operators. The
// transport records every request (verb, HTTP code, latency); the Reflector
// records lists, watch restarts with their reason, errors and events and the
// newest resourceVersion; both beat the heartbeat that the liveness probe reads.
//
// Threading: thread-safe. Written by the Kubernetes I/O thread, read by scrapes.
#ifndef JAWLB_K8S_API_MONITOR_H_
#define JAWLB_K8S_API_MONITOR_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "common/heartbeat.h"
#include "common/metrics.h"

namespace jawlb::k8s {

class ApiMonitor {
 public:
  // The I/O thread counts as stuck after `stuck_after` without a beat (outside
  // the waits it announces). curl beats at least once a second.
  explicit ApiMonitor(absl::Duration stuck_after = absl::Seconds(60)) : heartbeat_(stuck_after) {}

  // A request ended: `verb` "GET" or "WATCH"; `code` the HTTP status, 0 when
  // there was no response; `latency` the whole GET, or the time to the watch's
  // response headers.
  void Request(absl::string_view verb, int code, absl::Duration latency);
  // A complete (possibly paginated) list of `objects` at `resource_version`.
  void Listed(absl::Duration took, size_t objects, std::string resource_version)
      ABSL_LOCKS_EXCLUDED(mu_);
  // One watch event of `type` (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR).
  void Event(absl::string_view type);
  // After a batch of events: the resourceVersion reached.
  void Synced(std::string resource_version) ABSL_LOCKS_EXCLUDED(mu_);
  // A watch ended and will be renewed: "timeout" (the server ended it as
  // asked), "expired" (410: re-list), "stalled", "error".
  void WatchRestarted(absl::string_view reason);
  // A list or watch failed with `error` ("list" or "watch").
  void Failed(absl::string_view operation, const absl::Status& error);

  Heartbeat& heartbeat() { return heartbeat_; }
  const Heartbeat& heartbeat() const { return heartbeat_; }

  struct Progress {
    std::string resource_version;  // "" before the first list
    absl::Time last_list = absl::InfinitePast();
    absl::Time last_sync = absl::InfinitePast();  // the newest list or batch of events
  };
  Progress progress() const ABSL_LOCKS_EXCLUDED(mu_);

  void WriteMetrics(metrics::TextWriter& out) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  Heartbeat heartbeat_;
  metrics::CounterMap requests_{{"verb", "code"}};
  metrics::Histogram get_seconds_{metrics::Histogram::LatencyBounds()};
  metrics::Histogram watch_seconds_{metrics::Histogram::LatencyBounds()};
  metrics::Counter lists_;
  metrics::Histogram list_seconds_{metrics::Histogram::LatencyBounds()};
  metrics::Gauge listed_objects_;
  metrics::CounterMap events_{{"type"}};
  metrics::CounterMap watch_restarts_{{"reason"}};
  metrics::CounterMap errors_{{"operation", "reason"}};

  mutable absl::Mutex mu_;
  Progress progress_ ABSL_GUARDED_BY(mu_);
};

// The label an error is counted under: its status code, lower case
// ("permission_denied").
std::string ErrorReason(const absl::Status& error);

// WatchStats: one watch's share of what ApiMonitor counts — lists, events,
// restarts and errors, and when it was last in sync — for per-service metrics
// when one jawlb watches many services (JAWLB_MODE=multi). Small: one per
// watched service.
//
// Threading: thread-safe. Written by the Kubernetes I/O thread, read by scrapes.
class WatchStats {
 public:
  struct Counts {
    uint64_t lists = 0;
    uint64_t events = 0;
    std::map<std::pair<std::string, std::string>, uint64_t> errors;  // (operation, reason)
    std::map<std::string, uint64_t> restarts;                        // by reason
    absl::Time last_sync = absl::InfinitePast();
    // Sums `other` in (the newest last_sync wins).
    Counts& operator+=(const Counts& other);
  };

  void Listed() ABSL_LOCKS_EXCLUDED(mu_);
  void Event() ABSL_LOCKS_EXCLUDED(mu_);
  void Synced() ABSL_LOCKS_EXCLUDED(mu_);
  void WatchRestarted(absl::string_view reason) ABSL_LOCKS_EXCLUDED(mu_);
  void Failed(absl::string_view operation, const absl::Status& error) ABSL_LOCKS_EXCLUDED(mu_);
  Counts counts() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  Counts counts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_API_MONITOR_H_
