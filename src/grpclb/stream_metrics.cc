#include "grpclb/stream_metrics.h"

namespace jawlb::grpclb {
namespace {

void AddDelta(metrics::Counter& counter, int64_t before, int64_t after) {
  if (after > before) counter.Add(static_cast<uint64_t>(after - before));
}

}  // namespace

void StreamMetrics::AddReport(const ClientLoad& before, const ClientLoad& after) {
  AddDelta(reports, before.reports, after.reports);
  AddDelta(rejected_reports, before.rejected_reports, after.rejected_reports);
  AddDelta(calls_started, before.calls_started, after.calls_started);
  AddDelta(calls_finished, before.calls_finished, after.calls_finished);
  AddDelta(calls_failed_to_send, before.calls_failed_to_send, after.calls_failed_to_send);
  AddDelta(calls_known_received, before.calls_known_received, after.calls_known_received);
  AddDelta(calls_dropped, before.calls_dropped, after.calls_dropped);
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
}

}  // namespace jawlb::grpclb
