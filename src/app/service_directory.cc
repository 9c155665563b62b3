#include "app/service_directory.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

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
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return absl::UnavailableError("jawlb is shutting down: reconnect to another replica");
  }
  const std::string key = service->Key();
  if (auto it = units_.find(key); it != units_.end()) {
    it->second.idle_since = absl::InfiniteFuture();
    return it->second.unit;
  }
  // The first client of this service, within the bounds.
  if (absl::Status bound = CheckBounds(key, peer); !bound.ok()) return bound;
  // Making a unit starts its source (callbacks on the Kubernetes I/O thread)
  // and returns; the list follows when the source has one.
  absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> unit = make_(*service);
  if (!unit.ok()) {
    refused_.Add({std::string(absl::StatusCodeToString(unit.status().code()))});
    return absl::UnavailableError(
        absl::StrCat("cannot watch service ", key, ": ", unit.status().message()));
  }
  Entry& entry = units_[key];
  entry.unit = *unit;
  entry.started_by = std::string(peer);
  ++started_by_[entry.started_by];
  started_.Add();
  spdlog::info("service {}: first client (asked for \"{}\"): watching it", key, std::string(name));
  return *unit;
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
  if (refusal_log_.Allow(absl::Now(), suppressed)) {
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
      dropped = TakeDroppable(absl::Now());
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
    // Only we hold it when the count is one: new holders come through
    // Resolve, under mu_.
    if (entry.unit.use_count() > 1) {
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

std::vector<ServiceDirectory::UnitInfo> ServiceDirectory::Describe() const {
  absl::MutexLock lock(&mu_);
  std::vector<UnitInfo> infos;
  for (const auto& [key, entry] : units_) {
    const grpclb::SnapshotPtr latest = entry.unit->hub().Latest();
    infos.push_back(UnitInfo{key, entry.unit.use_count() - 1, entry.idle_since,
                             latest == nullptr ? 0 : latest->drop_percent,
                             latest == nullptr ? 0 : latest->backends.size(),
                             entry.unit->health()});
  }
  return infos;
}

namespace {

// One service's metrics, or the sum of those beyond the label cap.
struct Row {
  std::string service;
  double streams = 0;
  double backends = 0;
  double updates = 0;
  std::optional<double> drop_ratio;                   // with shedding
  std::optional<grpclb::ServiceUnit::Health> health;  // with health checks
  std::optional<k8s::WatchStats::Counts> kubernetes;  // its watch's counts
  grpclb::ServiceUnit* unit = nullptr;                // null for "(other)"; valid while mu_ is held

  // What `unit` shows now, as `service`.
  static Row Of(const std::string& service, grpclb::ServiceUnit& unit, long streams) {
    Row row;
    row.service = service;
    row.streams = static_cast<double>(streams);
    const grpclb::SnapshotPtr latest = unit.hub().Latest();
    if (latest != nullptr) {
      row.backends = static_cast<double>(latest->backends.size());
      row.updates = static_cast<double>(latest->version);
    }
    if (const grpclb::LoadShedding* shedding = unit.shedding();
        shedding != nullptr && shedding->enabled()) {
      row.drop_ratio = latest == nullptr ? 0.0 : latest->drop_percent / 100.0;
    }
    row.health = unit.health();
    if (const k8s::WatchStats* stats = unit.watch_stats(); stats != nullptr) {
      row.kubernetes = stats->counts();
    }
    row.unit = &unit;
    return row;
  }

  // Adds `other` in ("(other)": sums; a ratio and a histogram do not add up).
  void Add(const Row& other) {
    streams += other.streams;
    backends += other.backends;
    updates += other.updates;
    if (other.health.has_value()) {
      if (!health.has_value()) health.emplace();
      health->failing += other.health->failing;
      health->panic = health->panic || other.health->panic;
    }
    if (other.kubernetes.has_value()) {
      if (!kubernetes.has_value()) kubernetes.emplace();
      *kubernetes += *other.kubernetes;
    }
  }
};

// Shedding and health checks, per service, for the services that have them.
void WriteBalancingMetrics(const std::vector<Row>& rows, metrics::TextWriter& out) {
  auto family = [&](const char* name, const char* help, auto value) {
    bool header = false;
    for (const Row& row : rows) {
      const std::optional<double> sample = value(row);
      if (!sample.has_value()) continue;
      if (!header) out.Header(name, "gauge", help);
      header = true;
      out.Sample(name, {{"service", row.service}}, *sample);
    }
  };
  // A ratio does not add up into "(other)": named services only.
  family("jawlb_service_shed_drop_ratio",
         "Per service with JAWLB_MAXRPSPERBACKEND: the share of its lists that is drop entries.",
         [](const Row& row) { return row.unit == nullptr ? std::nullopt : row.drop_ratio; });
  family("jawlb_service_health_backends_failing",
         "Per service with JAWLB_HEALTHCHECK=grpc: backends out of its list for failing health "
         "checks (or that would be, in panic).",
         [](const Row& row) -> std::optional<double> {
           if (!row.health.has_value()) return std::nullopt;
           return static_cast<double>(row.health->failing);
         });
  family("jawlb_service_health_panic",
         "Per service with JAWLB_HEALTHCHECK=grpc: 1 while more than half of its backends fail "
         "and all are sent anyway (\"(other)\": any of them).",
         [](const Row& row) -> std::optional<double> {
           if (!row.health.has_value()) return std::nullopt;
           return row.health->panic ? 1.0 : 0.0;
         });
}

// What each service's Kubernetes watch did (the sums are in jawlb_kubernetes_*).
void WriteKubernetesMetrics(const std::vector<Row>& rows, metrics::TextWriter& out) {
  auto counter = [&](const char* name, const char* help, uint64_t k8s::WatchStats::Counts::*field) {
    out.Header(name, "counter", help);
    for (const Row& row : rows) {
      if (!row.kubernetes.has_value()) continue;
      out.Sample(name, {{"service", row.service}}, static_cast<double>((*row.kubernetes).*field));
    }
  };
  counter("jawlb_service_kubernetes_lists_total",
          "Per service: complete lists of its EndpointSlices (multi mode).",
          &k8s::WatchStats::Counts::lists);
  counter("jawlb_service_kubernetes_watch_events_total",
          "Per service: watch events received (multi mode).", &k8s::WatchStats::Counts::events);
  out.Header("jawlb_service_kubernetes_watch_restarts_total", "counter",
             "Per service: watches renewed, by reason (multi mode).");
  for (const Row& row : rows) {
    if (!row.kubernetes.has_value()) continue;
    for (const auto& [reason, count] : row.kubernetes->restarts) {
      out.Sample("jawlb_service_kubernetes_watch_restarts_total",
                 {{"service", row.service}, {"reason", reason}}, static_cast<double>(count));
    }
  }
  out.Header("jawlb_service_kubernetes_errors_total", "counter",
             "Per service: failed lists and watches, by operation and error code (multi mode).");
  for (const Row& row : rows) {
    if (!row.kubernetes.has_value()) continue;
    for (const auto& [key, count] : row.kubernetes->errors) {
      out.Sample("jawlb_service_kubernetes_errors_total",
                 {{"service", row.service}, {"operation", key.first}, {"reason", key.second}},
                 static_cast<double>(count));
    }
  }
  // A time does not add up into "(other)": named services only.
  out.Header("jawlb_service_kubernetes_last_sync_timestamp_seconds", "gauge",
             "Per service: when its watched state was last brought up to date, Unix time; 0 "
             "before its first list (multi mode).");
  for (const Row& row : rows) {
    if (!row.kubernetes.has_value() || row.unit == nullptr) continue;
    const absl::Time last = row.kubernetes->last_sync;
    out.Sample("jawlb_service_kubernetes_last_sync_timestamp_seconds", {{"service", row.service}},
               last == absl::InfinitePast() ? 0 : absl::ToDoubleSeconds(last - absl::UnixEpoch()));
  }
}

}  // namespace

void ServiceDirectory::WriteMetrics(metrics::TextWriter& out) const {
  std::vector<Row> rows;
  // Held throughout: the rows point at units only the lock keeps alive.
  absl::MutexLock lock(&mu_);
  for (const auto& [key, entry] : units_) {
    rows.push_back(Row::Of(key, *entry.unit, entry.unit.use_count() - 1));
  }
  const size_t active = rows.size();
  // Bounded label cardinality: the services with the most streams by name,
  // the rest summed under "(other)".
  if (rows.size() > kMaxServiceLabels) {
    std::stable_sort(rows.begin(), rows.end(),
                     [](const Row& a, const Row& b) { return a.streams > b.streams; });
    Row other;
    other.service = "(other)";
    for (size_t i = kMaxServiceLabels; i < rows.size(); ++i) other.Add(rows[i]);
    rows.resize(kMaxServiceLabels);
    rows.push_back(other);
  }
  out.Header("jawlb_service_streams", "gauge", "BalanceLoad streams per service (multi mode).");
  for (const Row& row : rows) {
    out.Sample("jawlb_service_streams", {{"service", row.service}}, row.streams);
  }
  out.Header("jawlb_service_backends_sent", "gauge",
             "Backends in the list each service's clients get now (multi mode).");
  for (const Row& row : rows) {
    out.Sample("jawlb_service_backends_sent", {{"service", row.service}}, row.backends);
  }
  out.Header("jawlb_service_list_updates_total", "counter",
             "Lists published per service since its watch started (multi mode).");
  for (const Row& row : rows) {
    out.Sample("jawlb_service_list_updates_total", {{"service", row.service}}, row.updates);
  }
  // Histograms do not add up into "(other)": only the named services have one.
  out.Header("jawlb_service_list_propagation_seconds", "histogram",
             "Per service (the named ones): from the watch event's arrival to each client's "
             "write of the list (multi mode).");
  for (const Row& row : rows) {
    if (row.unit == nullptr) continue;
    out.HistogramSamples("jawlb_service_list_propagation_seconds", {{"service", row.service}},
                         row.unit->propagation());
  }
  WriteBalancingMetrics(rows, out);
  WriteKubernetesMetrics(rows, out);
  out.Gauge("jawlb_services_watched",
            "Services with a unit now (clients, or idle for less "
            "than JAWLB_IDLETIMEOUT).",
            static_cast<double>(active));
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
