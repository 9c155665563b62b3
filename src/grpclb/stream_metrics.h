// StreamMetrics: what the BalanceLoad streams of this replica did, summed over
// every stream that ever lived: streams started and how they ended, lists
// written and how long each took to reach its client, and the load the clients
// reported. BalanceLoadService owns one and every stream adds to it.
//
// Threading: thread-safe (metrics instruments).
#ifndef JAWLB_GRPCLB_STREAM_METRICS_H_
#define JAWLB_GRPCLB_STREAM_METRICS_H_

#include <cstddef>

#include "balancer/client_load.h"
#include "common/metrics.h"

namespace jawlb::grpclb {

struct StreamMetrics {
  metrics::Counter started;
  metrics::CounterMap ended{{"code"}};  // gRPC status code name
  metrics::Counter lists_written;       // ServerList messages, initial responses excluded
  metrics::Counter bytes_written;
  // From the moment the source saw a change to the moment its list was written
  // to a client, one observation per client (a stream's first list is none).
  metrics::Histogram propagation{metrics::Histogram::LatencyBounds()};
  // Totals of the clients' load reports.
  metrics::Counter reports;
  metrics::Counter rejected_reports;
  metrics::Counter calls_started;
  metrics::Counter calls_finished;
  metrics::Counter calls_failed_to_send;
  metrics::Counter calls_known_received;
  metrics::Counter calls_dropped;
  // By load_balance_token: jawlb's own tokens ("jawlb-..."), any other as "other".
  metrics::CounterMap dropped_by_token{{"token"}};

  // Adds one report, `accepted` or rejected as nonsense.
  void AddReport(const balancer::LoadReport& report, bool accepted);
  // Writes the families; `connected` is the number of streams open now.
  void WriteTo(metrics::TextWriter& out, size_t connected) const;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_STREAM_METRICS_H_
