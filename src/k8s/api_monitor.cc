#include "k8s/api_monitor.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "common/clock.h"

namespace jawlb::k8s {

void ApiMonitor::Request(absl::string_view verb, int code, absl::Duration latency) {
  requests_.Add({std::string(verb), code == 0 ? "none" : absl::StrCat(code)});
  (verb == "WATCH" ? watch_seconds_ : get_seconds_).Observe(latency);
}

void ApiMonitor::Listed(absl::Duration took, size_t objects, std::string resource_version) {
  lists_.Add();
  list_seconds_.Observe(took);
  listed_objects_.Set(static_cast<int64_t>(objects));
  const absl::Time now = Clock::Real().Now();
  absl::MutexLock lock(&mu_);
  progress_.resource_version = std::move(resource_version);
  progress_.last_list = now;
  progress_.last_sync = now;
}

void ApiMonitor::Event(absl::string_view type) { events_.Add({std::string(type)}); }

void ApiMonitor::Synced(std::string resource_version) {
  const absl::Time now = Clock::Real().Now();
  absl::MutexLock lock(&mu_);
  progress_.resource_version = std::move(resource_version);
  progress_.last_sync = now;
}

void ApiMonitor::WatchRestarted(absl::string_view reason) {
  watch_restarts_.Add({std::string(reason)});
}

std::string ErrorReason(const absl::Status& error) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(error.code()));
}

void ApiMonitor::Failed(absl::string_view operation, const absl::Status& error) {
  errors_.Add({std::string(operation), ErrorReason(error)});
}

ApiMonitor::Progress ApiMonitor::progress() const {
  absl::MutexLock lock(&mu_);
  return progress_;
}

void ApiMonitor::WriteMetrics(metrics::TextWriter& out) const {
  out.Counters("jawlb_kubernetes_requests_total",
               "Requests to the Kubernetes API server, by verb and HTTP code (\"none\": no "
               "response).",
               requests_);
  out.Header("jawlb_kubernetes_request_duration_seconds", "histogram",
             "Latency of API requests: a whole GET, or a WATCH until its response headers.");
  out.HistogramSamples("jawlb_kubernetes_request_duration_seconds", {{"verb", "GET"}},
                       get_seconds_);
  out.HistogramSamples("jawlb_kubernetes_request_duration_seconds", {{"verb", "WATCH"}},
                       watch_seconds_);
  out.Counter("jawlb_kubernetes_lists_total", "Complete lists (all pages) of the watched objects.",
              static_cast<double>(lists_.value()));
  out.Histogram("jawlb_kubernetes_list_duration_seconds",
                "Time to list the watched objects, all pages.", list_seconds_);
  out.Gauge("jawlb_kubernetes_listed_objects", "Objects in the newest complete list.",
            static_cast<double>(listed_objects_.value()));
  out.Counters("jawlb_kubernetes_watch_events_total", "Watch events received, by type.", events_);
  out.Counters("jawlb_kubernetes_watch_restarts_total",
               "Watches renewed, by reason: timeout (ended by the server as asked), expired (410, "
               "re-list), stalled (silent too long), error.",
               watch_restarts_);
  out.Counters("jawlb_kubernetes_errors_total",
               "Failed lists and watches, by operation and error code.", errors_);
  const Progress now = progress();
  out.Gauge("jawlb_kubernetes_last_sync_timestamp_seconds",
            "When the watched state was last brought up to date (a list or a batch of events), "
            "Unix time; 0 before the first list.",
            now.last_sync == absl::InfinitePast()
                ? 0
                : absl::ToDoubleSeconds(now.last_sync - absl::UnixEpoch()));
  out.Gauge("jawlb_kubernetes_io_last_progress_timestamp_seconds",
            "When the Kubernetes I/O thread last showed progress, Unix time.",
            absl::ToDoubleSeconds(heartbeat_.last_beat() - absl::UnixEpoch()));
}

// --- WatchStats ---------------------------------------------------------------

WatchStats::Counts& WatchStats::Counts::operator+=(const Counts& other) {
  lists += other.lists;
  events += other.events;
  for (const auto& [key, count] : other.errors) errors[key] += count;
  for (const auto& [reason, count] : other.restarts) restarts[reason] += count;
  last_sync = std::max(last_sync, other.last_sync);
  return *this;
}

void WatchStats::Listed() {
  const absl::Time now = Clock::Real().Now();
  absl::MutexLock lock(&mu_);
  ++counts_.lists;
  counts_.last_sync = now;
}

void WatchStats::Event() {
  absl::MutexLock lock(&mu_);
  ++counts_.events;
}

void WatchStats::Synced() {
  const absl::Time now = Clock::Real().Now();
  absl::MutexLock lock(&mu_);
  counts_.last_sync = now;
}

void WatchStats::WatchRestarted(absl::string_view reason) {
  absl::MutexLock lock(&mu_);
  ++counts_.restarts[std::string(reason)];
}

void WatchStats::Failed(absl::string_view operation, const absl::Status& error) {
  std::pair<std::string, std::string> key{std::string(operation), ErrorReason(error)};
  absl::MutexLock lock(&mu_);
  ++counts_.errors[std::move(key)];
}

WatchStats::Counts WatchStats::counts() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

}  // namespace jawlb::k8s
