#include "grpclb/stream_metrics.h"

#include "absl/strings/match.h"

namespace jawlb::grpclb {
void StreamMetrics::AddReport(const balancer::LoadReport& report, bool accepted) {
  if (!accepted) {
    rejected_reports.Add();
    return;
  }
  reports.Add();
  calls_started.Add(static_cast<uint64_t>(report.calls_started));
  calls_finished.Add(static_cast<uint64_t>(report.calls_finished));
  calls_failed_to_send.Add(static_cast<uint64_t>(report.calls_failed_to_send));
  calls_known_received.Add(static_cast<uint64_t>(report.calls_known_received));
  for (const auto& [token, calls] : report.drops) {
    calls_dropped.Add(static_cast<uint64_t>(calls));
    // Clients choose the tokens they report: only jawlb's own become labels.
    dropped_by_token.Add(
        {absl::StartsWith(token, "jawlb-") && token.size() <= 48 ? token : "other"},
        static_cast<uint64_t>(calls));
  }
}

void StreamMetrics::WriteTo(metrics::TextWriter& out, size_t connected) const {
  out.Gauge("jawlb_clients", "BalanceLoad streams open now.", static_cast<double>(connected));
  out.Counter("jawlb_streams_started_total", "BalanceLoad streams accepted.",
              static_cast<double>(started.value()));
  out.Counters("jawlb_streams_ended_total", "BalanceLoad streams ended, by gRPC status code.",
               ended);
  out.Counter("jawlb_server_lists_written_total",
              "ServerList messages written to clients (initial responses not counted).",
              static_cast<double>(lists_written.value()));
  out.Counter("jawlb_server_list_bytes_written_total",
              "Bytes of ServerList messages written to clients.",
              static_cast<double>(bytes_written.value()));
  out.Histogram("jawlb_list_propagation_seconds",
                "Time from the source seeing a change (a watch event arriving) to its list being "
                "written to a client; one observation per client (not for a stream's first list).",
                propagation);
  out.Counter("jawlb_client_stats_reports_total", "ClientStats load reports accepted.",
              static_cast<double>(reports.value()));
  out.Counter("jawlb_client_stats_rejected_total",
              "ClientStats load reports ignored as nonsense (negative or absurd counts).",
              static_cast<double>(rejected_reports.value()));
  out.Counter("jawlb_client_calls_started_total", "Calls clients reported starting.",
              static_cast<double>(calls_started.value()));
  out.Counter("jawlb_client_calls_finished_total", "Calls clients reported finishing.",
              static_cast<double>(calls_finished.value()));
  out.Counter("jawlb_client_calls_failed_to_send_total",
              "Calls clients reported finishing without sending them.",
              static_cast<double>(calls_failed_to_send.value()));
  out.Counter("jawlb_client_calls_known_received_total",
              "Calls clients reported finishing that the backend is known to have received.",
              static_cast<double>(calls_known_received.value()));
  out.Counter("jawlb_client_calls_dropped_total",
              "Calls clients reported dropping as told by a drop entry.",
              static_cast<double>(calls_dropped.value()));
  out.Counters("jawlb_client_calls_dropped_by_token_total",
               "Calls clients reported dropping, by load_balance_token (jawlb's; others as "
               "\"other\").",
               dropped_by_token);
}

}  // namespace jawlb::grpclb
