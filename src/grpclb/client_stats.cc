#include "grpclb/client_stats.h"

namespace jawlb::grpclb {

balancer::LoadReport ToLoadReport(const grpc::lb::v1::ClientStats& stats) {
  balancer::LoadReport report;
  if (stats.has_timestamp()) {
    report.sent = absl::FromUnixSeconds(stats.timestamp().seconds()) +
                  absl::Nanoseconds(stats.timestamp().nanos());
  }
  report.calls_started = stats.num_calls_started();
  report.calls_finished = stats.num_calls_finished();
  report.calls_failed_to_send = stats.num_calls_finished_with_client_failed_to_send();
  report.calls_known_received = stats.num_calls_finished_known_received();
  for (const grpc::lb::v1::ClientStatsPerToken& per_token : stats.calls_finished_with_drop()) {
    report.drops.emplace_back(per_token.load_balance_token(), per_token.num_calls());
  }
  return report;
}

}  // namespace jawlb::grpclb
