// Reflector: keeps an ObjectStore in sync with one kind of object on the API
// server, with client-go's reflector semantics:
// - a paginated list (limit/continue; an expired continue token restarts it),
//   then Replace + Sync;
// - a watch from the list's resourceVersion with allowWatchBookmarks; every
//   event, bookmarks included, advances the resourceVersion;
// - a watch that ends (timeoutSeconds, a dropped connection, a garbage line, a
//   silent stall past `stall_timeout`) resumes from the last resourceVersion;
// - 410 Gone / ERROR 410 "Expired" re-lists, and Replace drops what vanished;
// - errors back off exponentially with jitter, capped; 429/503 Retry-After is
//   honoured.
// A failing API server never reaches the store: it keeps the last good state.
//
// Borrows the transport, the store and the monitor, which must outlive Run().
// Threading: Run() blocks on the Kubernetes I/O thread, which is the only
// thread that touches the store; Stop() may be called from any thread.
#ifndef JAWLB_K8S_REFLECTOR_H_
#define JAWLB_K8S_REFLECTOR_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "k8s/api_monitor.h"
#include "k8s/backoff.h"
#include "k8s/http_transport.h"
#include "k8s/object_store.h"

namespace jawlb::k8s {

class Reflector {
 public:
  struct Options {
    // The collection: "/apis/discovery.k8s.io/v1/namespaces/prod/endpointslices".
    std::string path;
    std::string label_selector;
    std::string field_selector;
    int page_size = 500;
    // A watch with no bytes at all (not even a bookmark) for this long is cut.
    absl::Duration stall_timeout = absl::Seconds(90);
    // Each watch asks the server to end it after [min, 2*min), so watches renew.
    absl::Duration min_watch_timeout = absl::Minutes(5);
    absl::Duration initial_backoff = absl::Milliseconds(500);
    absl::Duration max_backoff = absl::Seconds(30);
    // Hears of lists, events, restarts and errors, and is beaten as the loop
    // runs; null: nobody listens. Borrowed; must outlive Run().
    ApiMonitor* monitor = nullptr;
  };

  Reflector(HttpTransport& transport, ObjectStore& store, Options options);

  // Lists and watches until Stop(). Blocks.
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  // Makes Run() return soon. Thread-safe, idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Lists everything into the store; returns the list's resourceVersion.
  absl::StatusOr<std::string> List();
  // Watches from `rv`, advancing it. OK when the watch ended normally; Aborted
  // when the version expired (re-list); another error otherwise.
  absl::Status Watch(std::string& rv);
  absl::Status HandleEvent(simdjson::dom::parser& parser, absl::string_view line, std::string& rv,
                           bool& gone);
  std::string Query(absl::string_view first) const;
  // Waits `delay` or until Stop(); true when stopping.
  bool Wait(absl::Duration delay) ABSL_LOCKS_EXCLUDED(mu_);
  bool Stopping() ABSL_LOCKS_EXCLUDED(mu_);
  // The delay before retrying after `status`: the server's Retry-After, else backoff.
  absl::Duration RetryDelay();

  // Constant after construction.
  HttpTransport& transport_;
  ObjectStore& store_;
  const Options options_;

  // Confined to the Run() thread.
  ApiMonitor own_monitor_;  // when Options.monitor is null
  ApiMonitor& monitor_;
  Backoff backoff_;
  std::optional<absl::Duration> retry_after_;  // from the last failed response

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

// The error for a non-2xx response: the code follows the HTTP status (403 →
// PermissionDenied, 404 → NotFound, 410 → Aborted, 429 → ResourceExhausted, 5xx →
// Unavailable ...) and the message carries the Status body's message.
absl::Status HttpError(absl::string_view what, const HttpResponse& response);

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_REFLECTOR_H_
