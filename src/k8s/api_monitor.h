// ApiMonitor: what the Kubernetes I/O thread is doing, for operators. The
// transport records every request (verb, HTTP code, latency); the Reflector
// records lists, watch restarts with their reason, errors and events and the
// newest resourceVersion; both beat the heartbeat that the liveness probe reads.
//
// Threading: thread-safe. Written by the Kubernetes I/O thread, read by scrapes.
#ifndef JAWLB_K8S_API_MONITOR_H_
#define JAWLB_K8S_API_MONITOR_H_

#include <string>

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

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_API_MONITOR_H_
