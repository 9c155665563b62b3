#include "grpclb/service_unit_report.h"

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace jawlb::grpclb {
namespace {

// One service's metrics, or the sum of those beyond the label cap.
struct Row {
  std::string service;
  double streams = 0;
  double backends = 0;
  double updates = 0;
  std::optional<double> drop_ratio;                   // with shedding
  std::optional<ServiceUnit::Health> health;          // with health checks
  std::optional<k8s::WatchStats::Counts> kubernetes;  // its watch's counts
  const ServiceUnit* unit = nullptr;                  // null for "(other)"

  // What `unit` shows now, as `service`.
  static Row Of(const std::string& service, const ServiceUnit& unit, long streams) {
    Row row;
    row.service = service;
    row.streams = static_cast<double>(streams);
    const SnapshotPtr latest = unit.hub().Latest();
    if (latest != nullptr) {
      row.backends = static_cast<double>(latest->backends.size());
      row.updates = static_cast<double>(latest->version);
    }
    if (unit.shedding().enabled()) {
      row.drop_ratio = latest == nullptr ? 0.0 : latest->drop_percent / 100.0;
    }
    row.health = unit.health();
    row.kubernetes = unit.source().WatchCounts();
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

void WriteServiceMetrics(const std::vector<UnitUse>& units, metrics::TextWriter& out) {
  std::vector<Row> rows;
  rows.reserve(units.size());
  for (const UnitUse& use : units) rows.push_back(Row::Of(use.unit->key(), *use.unit, use.streams));
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
             "write of the list (grpclb) or assignment (xDS) (multi mode).");
  for (const Row& row : rows) {
    if (row.unit == nullptr) continue;
    out.HistogramSamples("jawlb_service_list_propagation_seconds", {{"service", row.service}},
                         row.unit->propagation());
  }
  WriteBalancingMetrics(rows, out);
  WriteKubernetesMetrics(rows, out);
}

std::string ServicesJson(const std::vector<UnitUse>& units) {
  std::vector<std::string> services;
  for (const UnitUse& use : units) {
    const SnapshotPtr latest = use.unit->hub().Latest();
    std::string json = absl::StrCat(
        "{\"service\":\"", use.unit->key(), "\",\"streams\":", use.streams, ",\"idle_since\":",
        use.idle_since == absl::InfiniteFuture()
            ? "null"
            : absl::StrCat("\"", absl::FormatTime(use.idle_since), "\""),
        ",\"drop_percent\":", latest == nullptr ? 0 : latest->drop_percent);
    if (const std::optional<ServiceUnit::Health> health = use.unit->health(); health.has_value()) {
      absl::StrAppend(&json, ",\"health\":{\"failing\":", health->failing,
                      ",\"panic\":", health->panic ? "true" : "false", "}");
    }
    services.push_back(json + "}");
  }
  return absl::StrCat("[", absl::StrJoin(services, ","), "]");
}

size_t BackendsSent(const std::vector<UnitUse>& units) {
  size_t sum = 0;
  for (const UnitUse& use : units) {
    const SnapshotPtr latest = use.unit->hub().Latest();
    if (latest != nullptr) sum += latest->backends.size();
  }
  return sum;
}

}  // namespace jawlb::grpclb
