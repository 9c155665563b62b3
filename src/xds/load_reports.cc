#include "xds/load_reports.h"

#include <limits>

namespace jawlb::xds {

int64_t SaturatingAdd(int64_t a, uint64_t b) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (b >= kMax || a >= static_cast<int64_t>(kMax - b)) return std::numeric_limits<int64_t>::max();
  return a + static_cast<int64_t>(b);
}

balancer::LoadReport ToLoadReport(const envoy::config::endpoint::v3::ClusterStats& stats) {
  balancer::LoadReport report;
  int64_t issued = 0;
  int64_t done = 0;
  for (const auto& locality : stats.upstream_locality_stats()) {
    issued = SaturatingAdd(issued, locality.total_issued_requests());
    done = SaturatingAdd(SaturatingAdd(done, locality.total_successful_requests()),
                         locality.total_error_requests());
  }
  int64_t dropped = 0;
  for (const auto& drop : stats.dropped_requests()) {
    report.drops.emplace_back(drop.category(), SaturatingAdd(0, drop.dropped_count()));
    dropped = SaturatingAdd(dropped, drop.dropped_count());
  }
  report.calls_started = SaturatingAdd(issued, static_cast<uint64_t>(dropped));
  report.calls_finished = SaturatingAdd(done, static_cast<uint64_t>(dropped));
  report.calls_known_received = done;
  return report;
}

}  // namespace jawlb::xds
