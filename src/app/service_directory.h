// ServiceDirectory: JAWLB_MODE=multi. Routes each client's name to a service
// (routing::ServiceRouter, with JAWLB_ROUTES reloaded when the file changes)
// and keeps one unit per service in use — its Kubernetes source and its Hub —
// made by the first client asking for it and shared by the rest. A unit no
// stream has held for the idle timeout is stopped, so watches and memory follow
// the services in use, not the services that exist. A unit that found its
// Service missing (its Hub closed with NOT_FOUND) is forgotten after a short
// while, so clients retrying do not each cost a list.
//
// Each unit's source keeps client-go semantics on its own (a 410 re-lists only
// that service) and fails on its own: a 403 or a missing namespace leaves its
// clients with the drop entry and every other service untouched.
//
// Threading: thread-safe. Resolve() runs on the transport's threads and never
// blocks on I/O: a new unit is made and started outside the lock (its source
// does its I/O on its own thread). A janitor thread of its own drops idle
// units and reloads the routes. Units are stopped on the janitor thread or in
// Stop(), never under the lock; metrics and descriptions read the units with
// no lock held.
#ifndef JAWLB_APP_SERVICE_DIRECTORY_H_
#define JAWLB_APP_SERVICE_DIRECTORY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "common/clock.h"
#include "common/log_throttle.h"
#include "common/metrics.h"
#include "grpclb/service_unit.h"
#include "grpclb/service_unit_report.h"
#include "routing/service_router.h"

namespace jawlb::app {

class ServiceDirectory {
 public:
  // Makes the unit of `service`, not started. Cheap: no I/O, no thread.
  using MakeUnit = std::function<absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>>(
      const routing::ServiceRef& service)>;

  struct Options {
    routing::RouterOptions router;
    std::string routes_file;  // JAWLB_ROUTES ("": none); read into router.routes
    absl::Duration idle_timeout = absl::Minutes(5);
    // How often the janitor looks (real time; it reads `clock` on every pass).
    absl::Duration janitor_period = absl::Seconds(1);
    // What idle and closed times are measured by (borrowed; outlives the
    // directory).
    const Clock* clock = &Clock::Real();
    // A unit whose Hub closed (its Service does not exist) answers new clients
    // from memory this long, then is forgotten so the Service is looked for
    // again.
    absl::Duration forget_closed_after = absl::Seconds(10);
    // Clients choose the names, and every unit costs a list (and, for a
    // Service that exists, a watch and maybe a health-check thread): at most
    // this many units at once, and this many started by one client address
    // and not yet dropped. Past either, RESOURCE_EXHAUSTED.
    size_t max_services = 1000;
    size_t max_services_per_peer = 50;
    // What each unit's Hub wakes its streams through.
    grpclb::Hub::WakeRunner wake_runner;
  };

  // Reads the routes file (an error names it) and starts the janitor.
  static absl::StatusOr<std::unique_ptr<ServiceDirectory>> Start(Options options, MakeUnit make);
  ~ServiceDirectory();

  // The unit for the service `name` means, made if needed for the client at
  // `peer` (its address); a refusal says why.
  absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> Resolve(absl::string_view name,
                                                               absl::string_view peer = "")
      ABSL_LOCKS_EXCLUDED(mu_);
  // The unit of the service `key` ("namespace/name") if it is watched now,
  // else null. Never makes one (load reports name services; they do not
  // start watches).
  std::shared_ptr<grpclb::ServiceUnit> Find(const std::string& key) const ABSL_LOCKS_EXCLUDED(mu_);
  // Stops the janitor and every unit. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // The units now, with their streams (grpclb/service_unit_report.h reports
  // on them).
  std::vector<grpclb::UnitUse> Describe() const ABSL_LOCKS_EXCLUDED(mu_);
  // The per-service families and the directory's own counters.
  void WriteMetrics(metrics::TextWriter& out) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    std::shared_ptr<grpclb::ServiceUnit> unit;
    // What streams hold: another owner of `unit`, whose use count is the
    // unit's streams (plus this one).
    std::shared_ptr<grpclb::ServiceUnit> lease;
    std::string started_by;  // the client address whose stream made it
    absl::Time idle_since = absl::InfiniteFuture();
    absl::Time closed_since = absl::InfiniteFuture();
  };

  ServiceDirectory(Options options, MakeUnit make);
  // The unit `key` if there is one; else null when `peer` may start it, or
  // the refusal (shutting down, a bound).
  absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> FindOrAdmit(const std::string& key,
                                                                   absl::string_view peer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // OK when `peer` may start the unit `key`; else ResourceExhausted naming
  // the bound (logged, throttled, and counted).
  absl::Status CheckBounds(const std::string& key, absl::string_view peer)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Janitor();
  // The units to drop at `now`: idle for the idle timeout, or closed (not
  // found) for forget_closed_after.
  std::vector<std::shared_ptr<grpclb::ServiceUnit>> TakeDroppable(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-reads the routes file when its modification time changed (and then
  // held for a period).
  void MaybeReloadRoutes() ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  const MakeUnit make_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const routing::ServiceRouter> router_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Entry> units_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, size_t> started_by_ ABSL_GUARDED_BY(mu_);  // units per address
  LogThrottle refusal_log_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t routes_mtime_ = 0;       // of the routes in use; janitor thread only (and Start)
  int64_t routes_seen_mtime_ = 0;  // at the last look

  metrics::Counter started_;
  metrics::Counter dropped_;
  metrics::CounterMap refused_{{"code"}};
  metrics::Counter route_reloads_;
  metrics::Counter route_errors_;

  std::thread janitor_;
};

}  // namespace jawlb::app

#endif  // JAWLB_APP_SERVICE_DIRECTORY_H_
