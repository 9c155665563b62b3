#include "grpclb/load_shedding.h"

#include "spdlog/spdlog.h"

#include "grpclb/server_list.h"

namespace jawlb::grpclb {

void LoadShedding::Report(const void* client, const balancer::ClientLoad& load) {
  if (!enabled_) return;
  int percent = 0;
  double demand = 0;
  double capacity = 0;
  size_t backends = 0;
  absl::Time now;
  {
    absl::MutexLock lock(&mu_);
    clients_.insert_or_assign(client, load);
    now = clock_.Now();
    if (now - last_evaluation_ < evaluate_every_) return;
    last_evaluation_ = now;
    const SnapshotPtr latest = hub_.Latest();  // the Hub's lock is a leaf: never takes ours
    backends = latest == nullptr ? 0 : latest->backends.size();
    double dropped = 0;
    for (const auto& [id, each] : clients_) {
      const balancer::CallRates rates = each.RatesAt(now);
      demand += rates.started;
      dropped += rates.dropped;
    }
    reported_drop_ratio_ = demand > 0 ? dropped / demand : 0;
    if (!shedder_.Update(demand, backends)) return;
    percent = shedder_.percent();
    capacity = shedder_.capacity();
  }
  changes_.Add();
  if (percent > 0) {
    spdlog::warn(
        "shedding: clients want {:.0f} calls/s, {} backends take {:.0f} (JAWLB_MAXRPSPERBACKEND): "
        "lists now drop {}% of calls (token {})",
        demand, backends, capacity, percent, kOverloadToken);
  } else {
    spdlog::info("shedding stopped: clients want {:.0f} calls/s, {} backends take {:.0f}", demand,
                 backends, capacity);
  }
  hub_.SetDropPercent(percent, now);
}

void LoadShedding::Forget(const void* client) {
  if (!enabled_) return;
  absl::MutexLock lock(&mu_);
  clients_.erase(client);
}

void LoadShedding::WriteMetrics(metrics::TextWriter& out) const {
  if (!enabled_) return;
  absl::MutexLock lock(&mu_);
  out.Gauge("jawlb_shed_demand_calls_per_second",
            "Calls per second the clients want (smoothed calls started, drops included), as of "
            "the last evaluation.",
            shedder_.demand());
  out.Gauge("jawlb_shed_capacity_calls_per_second",
            "What the backends in the list take: JAWLB_MAXRPSPERBACKEND times their number.",
            shedder_.capacity());
  out.Gauge("jawlb_shed_drop_ratio", "Share of every list that is drop entries (0-0.99).",
            shedder_.percent() / 100.0);
  out.Gauge("jawlb_shed_reported_drop_ratio",
            "Share of their calls the clients report dropping (smoothed; drops of every token), "
            "to hold against jawlb_shed_drop_ratio.",
            reported_drop_ratio_);
  out.Counter("jawlb_shed_changes_total", "Times the drop share changed.",
              static_cast<double>(changes_.value()));
}

}  // namespace jawlb::grpclb
