#include "app/service_directory.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/status_macros.h"
#include "grpclb/service_unit_report.h"

namespace jawlb::app {
namespace {

// The file's modification time in nanoseconds; 0 when it cannot be read.
int64_t ModifiedAt(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return 0;
  return static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
}

absl::StatusOr<std::map<std::string, routing::ServiceRef>> ReadRoutes(const std::string& path) {
  std::ifstream file(path);
  if (!file) return absl::NotFoundError(absl::StrCat("JAWLB_ROUTES=", path, ": cannot read it"));
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<std::map<std::string, routing::ServiceRef>> routes =
      routing::ParseRoutes(text.str());
  if (!routes.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("JAWLB_ROUTES=", path, ": ", routes.status().message()));
  }
  return routes;
}

}  // namespace

ServiceDirectory::ServiceDirectory(Options options, MakeUnit make)
    : options_(std::move(options)), make_(std::move(make)) {}

absl::StatusOr<std::unique_ptr<ServiceDirectory>> ServiceDirectory::Start(Options options,
                                                                          MakeUnit make) {
  routing::RouterOptions router = options.router;
  int64_t mtime = 0;
  if (!options.routes_file.empty()) {
    mtime = ModifiedAt(options.routes_file);
    absl::StatusOr<std::map<std::string, routing::ServiceRef>> routes =
        ReadRoutes(options.routes_file);
    if (!routes.ok()) return routes.status();
    router.routes = *std::move(routes);
  }
  std::unique_ptr<ServiceDirectory> directory(
      new ServiceDirectory(std::move(options), std::move(make)));
  {
    absl::MutexLock lock(&directory->mu_);
    directory->router_ = std::make_shared<const routing::ServiceRouter>(std::move(router));
  }
  directory->routes_mtime_ = mtime;
  directory->routes_seen_mtime_ = mtime;
  directory->janitor_ = std::thread([d = directory.get()] { d->Janitor(); });
  return directory;
}

ServiceDirectory::~ServiceDirectory() { Stop(); }

absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> ServiceDirectory::Resolve(
    absl::string_view name, absl::string_view peer) {
  std::shared_ptr<const routing::ServiceRouter> router;
  {
    absl::MutexLock lock(&mu_);
    router = router_;
  }
  absl::StatusOr<routing::ServiceRef> service = router->Route(name);
  if (!service.ok()) {
    refused_.Add({std::string(absl::StatusCodeToString(service.status().code()))});
    return service.status();
  }
  const std::string key = service->Key();
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> known = FindOrAdmit(key, peer);
    if (!known.ok() || *known != nullptr) return known;
  }
  // The first client of this service, within the bounds: its unit is made
  // outside the lock (cheap: no I/O, no thread) ...
  absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> made = make_(*service);
  if (!made.ok()) {
    refused_.Add({std::string(absl::StatusCodeToString(made.status().code()))});
    return absl::UnavailableError(
        absl::StrCat("cannot watch service ", key, ": ", made.status().message()));
  }
  std::shared_ptr<grpclb::ServiceUnit> lease;
  {
    absl::MutexLock lock(&mu_);
    // ... and installed unless another client's came first (then ours, never
    // started, goes).
    absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> known = FindOrAdmit(key, peer);
    if (!known.ok() || *known != nullptr) return known;
    Entry& entry = units_[key];
    entry.unit = *made;
    // Streams get a lease of their own (a second owner of the unit), so only
    // they count as use: a report's brief copy of `unit` does not.
    entry.lease = std::shared_ptr<grpclb::ServiceUnit>(
        entry.unit.get(), [unit = entry.unit](grpclb::ServiceUnit*) {});
    lease = entry.lease;
    entry.started_by = std::string(peer);
    ++started_by_[entry.started_by];
    started_.Add();
  }
  // Started outside the lock too: the source's first list follows on its own
  // thread. A source that cannot start is its clients' error.
  spdlog::info("service {}: first client (asked for \"{}\"): watching it", key, std::string(name));
  if (absl::Status started = (*made)->Start(options_.wake_runner); !started.ok()) {
    (*made)->hub().Close(absl::UnavailableError(
        absl::StrCat("cannot watch service ", key, ": ", started.message())));
  }
  return lease;
}

absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> ServiceDirectory::FindOrAdmit(
    const std::string& key, absl::string_view peer) {
  if (stopping_) {
    return absl::UnavailableError("jawlb is shutting down: reconnect to another replica");
  }
  if (auto it = units_.find(key); it != units_.end()) {
    it->second.idle_since = absl::InfiniteFuture();
    return it->second.lease;
  }
  JAWLB_RETURN_IF_ERROR(CheckBounds(key, peer));
  return nullptr;
}

absl::Status ServiceDirectory::CheckBounds(const std::string& key, absl::string_view peer) {
  absl::Status refusal;
  if (units_.size() >= options_.max_services) {
    refusal = absl::ResourceExhaustedError(
        absl::StrCat("jawlb watches its most services (", options_.max_services,
                     ", JAWLB_MAXSERVICES): cannot start ", key));
  } else if (auto it = started_by_.find(std::string(peer));
             it != started_by_.end() && it->second >= options_.max_services_per_peer) {
    refusal = absl::ResourceExhaustedError(
        absl::StrCat("your address started ", it->second,
                     " services still watched, the most jawlb allows one client "
                     "(JAWLB_MAXSERVICESPERPEER): cannot start ",
                     key));
  } else {
    return absl::OkStatus();
  }
  refused_.Add({"RESOURCE_EXHAUSTED"});
  int64_t suppressed = 0;
  if (refusal_log_.Allow(options_.clock->Now(), suppressed)) {
    spdlog::warn("client {}: {}{}", std::string(peer), std::string(refusal.message()),
                 suppressed > 0 ? absl::StrCat(" (", suppressed, " more refused since)") : "");
  }
  return refusal;
}

void ServiceDirectory::Janitor() {
  while (true) {
    std::vector<std::shared_ptr<grpclb::ServiceUnit>> dropped;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.janitor_period);
      if (stopping_) return;
      dropped = TakeDroppable(options_.clock->Now());
    }
    for (const auto& unit : dropped) {
      if (unit->hub().Current().closed) {
        spdlog::info("service {}: forgotten (it was not found)", unit->key());
      } else {
        spdlog::info("service {}: no clients for {}: stopped watching it", unit->key(),
                     absl::FormatDuration(options_.idle_timeout));
      }
      dropped_.Add();
      // Stopped here, outside the lock: a unit dropped while streams still
      // hold it (not found) must leave nothing for its last holder to do.
      unit->Stop();
    }
    dropped.clear();
    MaybeReloadRoutes();
  }
}

std::vector<std::shared_ptr<grpclb::ServiceUnit>> ServiceDirectory::TakeDroppable(absl::Time now) {
  std::vector<std::shared_ptr<grpclb::ServiceUnit>> dropped;
  for (auto it = units_.begin(); it != units_.end();) {
    Entry& entry = it->second;
    if (entry.unit->hub().Current().closed && entry.closed_since == absl::InfiniteFuture()) {
      entry.closed_since = now;
    }
    // No stream holds it when we hold the only lease: new holders come
    // through Resolve, under mu_.
    if (entry.lease.use_count() > 1) {
      entry.idle_since = absl::InfiniteFuture();
    } else if (entry.idle_since == absl::InfiniteFuture()) {
      entry.idle_since = now;
    }
    if (now - entry.closed_since >= options_.forget_closed_after ||
        now - entry.idle_since >= options_.idle_timeout) {
      dropped.push_back(std::move(entry.unit));
      if (auto peer = started_by_.find(entry.started_by);
          peer != started_by_.end() && --peer->second == 0) {
        started_by_.erase(peer);
      }
      it = units_.erase(it);
    } else {
      ++it;
    }
  }
  return dropped;
}

void ServiceDirectory::MaybeReloadRoutes() {
  if (options_.routes_file.empty()) return;
  // Read a change only once the file has stood still for a janitor period, so
  // a half-written file is never taken for the new routes.
  const int64_t mtime = ModifiedAt(options_.routes_file);
  if (mtime != routes_seen_mtime_) {
    routes_seen_mtime_ = mtime;
    return;
  }
  if (mtime == routes_mtime_) return;
  routes_mtime_ = mtime;
  absl::StatusOr<std::map<std::string, routing::ServiceRef>> routes =
      ReadRoutes(options_.routes_file);
  if (!routes.ok()) {
    route_errors_.Add();
    spdlog::error("{}; keeping the routes read before", std::string(routes.status().message()));
    return;
  }
  routing::RouterOptions router = options_.router;
  const size_t count = routes->size();
  router.routes = *std::move(routes);
  auto next = std::make_shared<const routing::ServiceRouter>(std::move(router));
  {
    absl::MutexLock lock(&mu_);
    router_ = std::move(next);
  }
  route_reloads_.Add();
  spdlog::info("JAWLB_ROUTES={}: reloaded, {} routes", options_.routes_file, count);
}

void ServiceDirectory::Stop() {
  std::map<std::string, Entry> units;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && units_.empty()) return;
    stopping_ = true;
    units.swap(units_);
  }
  if (janitor_.joinable()) janitor_.join();
  // Streams may still hold units (the server is shutting down): stop them
  // here, so no source or wake outlives this call.
  for (auto& [key, entry] : units) entry.unit->Stop();
  units.clear();
}

std::shared_ptr<grpclb::ServiceUnit> ServiceDirectory::Find(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  const auto it = units_.find(key);
  return it == units_.end() ? nullptr : it->second.unit;
}

std::vector<grpclb::UnitUse> ServiceDirectory::Describe() const {
  absl::MutexLock lock(&mu_);
  std::vector<grpclb::UnitUse> units;
  units.reserve(units_.size());
  for (const auto& [key, entry] : units_) {
    units.push_back({entry.unit, entry.lease.use_count() - 1, entry.idle_since});
  }
  return units;
}

void ServiceDirectory::WriteMetrics(metrics::TextWriter& out) const {
  const std::vector<grpclb::UnitUse> units = Describe();
  grpclb::WriteServiceMetrics(units, out);
  out.Gauge("jawlb_services_watched",
            "Services with a unit now (clients, or idle for less "
            "than JAWLB_IDLETIMEOUT).",
            static_cast<double>(units.size()));
  out.Counter("jawlb_services_started_total", "Services whose first client started a watch.",
              static_cast<double>(started_.value()));
  out.Counter("jawlb_services_dropped_total",
              "Services no longer watched after JAWLB_IDLETIMEOUT without clients.",
              static_cast<double>(dropped_.value()));
  out.Counters("jawlb_service_names_refused_total",
               "Client names refused, by the status their stream ended with.", refused_);
  out.Counter("jawlb_routes_reloads_total", "Times JAWLB_ROUTES was read again after a change.",
              static_cast<double>(route_reloads_.value()));
  out.Counter("jawlb_routes_errors_total",
              "Times a changed JAWLB_ROUTES could not be used (the previous routes stayed).",
              static_cast<double>(route_errors_.value()));
}

}  // namespace jawlb::app
