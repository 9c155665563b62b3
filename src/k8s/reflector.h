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
// Event-driven: the Reflector has no thread. Its requests, timers and store
// calls all run as callbacks on the transport's I/O thread, so many reflectors
// share one thread (and, with CurlIo, one connection).
//
// Borrows the transport, the store and the monitor, which must outlive it.
// Threading: Start() and Stop() from any thread; everything else, the store
// included, runs on the transport's I/O thread.
#ifndef JAWLB_K8S_REFLECTOR_H_
#define JAWLB_K8S_REFLECTOR_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
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
    // Hears of lists, events, restarts and errors; null: nobody listens.
    // Borrowed; must outlive the reflector.
    ApiMonitor* monitor = nullptr;
    // This watch's own counts (per service in multi mode); null: none.
    // Borrowed; must outlive the reflector.
    WatchStats* stats = nullptr;
    // When the first complete list has no objects, stop there: no watch (the
    // store is told of the empty list first). Multi mode: a name a client
    // chose that matches nothing costs one LIST, not a watch held open.
    bool stop_if_first_list_empty = false;
  };

  Reflector(HttpTransport& transport, ObjectStore& store, Options options);

  // Begins to list and watch, until Stop().
  void Start();

  // Ends every request and timer; when it returns no callback runs, and the
  // reflector may be destroyed. Cancels the transport (one transport serves
  // one reflector). Idempotent.
  void Stop();

 private:
  // A paginated list, one page per request; every page stays parsed until
  // Replace() (the elements point into the parsers).
  struct Listing {
    absl::Time start;
    std::vector<std::unique_ptr<simdjson::dom::parser>> parsers;
    std::vector<simdjson::dom::element> items;
    std::string resource_version;
    std::string next;  // the continue token
    int restarts = 0;  // after an expired continue token
  };
  // One watch request.
  struct Watching {
    std::string pending;  // an event's first part, its line not yet complete
    absl::Status error;   // what ended the stream, from its data
    bool gone = false;    // ERROR 410: re-list
    bool received = false;
  };

  void List();
  void RequestPage();
  void OnPage(const absl::StatusOr<HttpResponse>& response);
  // OK when `listing_` took the page's items.
  absl::Status TakePage(const absl::StatusOr<HttpResponse>& response);
  void ListFailed(const absl::Status& status);
  void Watch();
  bool OnWatchData(absl::string_view chunk);
  void OnWatchEnd(const absl::StatusOr<HttpResponse>& response);
  // OK when the watch ended normally; Aborted when the version expired
  // (re-list); another error otherwise.
  absl::Status WatchResult(const absl::StatusOr<HttpResponse>& response);
  absl::Status HandleEvent(simdjson::dom::parser& parser, absl::string_view line);
  std::string Query(absl::string_view first) const;
  // The delay before retrying: the server's Retry-After, else backoff.
  absl::Duration RetryDelay();
  // Tell the monitor and this watch's stats.
  void Failed(absl::string_view operation, const absl::Status& status);
  void WatchRestarted(absl::string_view reason);
  void Event(absl::string_view type);

  // Constant after construction.
  HttpTransport& transport_;
  ObjectStore& store_;
  const Options options_;
  const std::string what_;  // for logs: the path and selectors

  // The I/O thread only.
  std::unique_ptr<ApiMonitor> own_monitor_;  // when Options.monitor is null
  ApiMonitor& monitor_;
  Backoff backoff_;
  std::optional<absl::Duration> retry_after_;  // from the last failed response
  std::string resource_version_;               // the newest seen
  std::unique_ptr<Listing> listing_;           // while a list is under way
  bool listed_once_ = false;                   // a complete list was taken
  Watching watching_;
};

// The error for a non-2xx response: the code follows the HTTP status (403 →
// PermissionDenied, 404 → NotFound, 410 → Aborted, 429 → ResourceExhausted, 5xx →
// Unavailable ...) and the message carries the Status body's message.
absl::Status HttpError(absl::string_view what, const HttpResponse& response);

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_REFLECTOR_H_
