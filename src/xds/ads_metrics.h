// AdsMetrics: what the ADS streams of this replica did, by resource type:
// requests (subscriptions, ACKs, NACKs, superseded), responses pushed,
// streams started, and how long a change took to reach the clients (only
// assignments change under a client: listeners, routes and clusters are
// functions of the names it asked for). AdsService owns one; every stream
// adds to it.
//
// Threading: thread-safe (metrics instruments).
#ifndef JAWLB_XDS_ADS_METRICS_H_
#define JAWLB_XDS_ADS_METRICS_H_

#include <cstddef>

#include "common/metrics.h"
#include "xds/ads_cursor.h"

namespace jawlb::xds {

// The `type` label of the metrics.
inline const char* TypeLabel(AdsCursor::Type type) {
  constexpr const char* kLabels[] = {"listener", "route", "cluster", "endpoints"};
  return kLabels[static_cast<size_t>(type)];
}

inline const char* KindLabel(AdsCursor::Kind kind) {
  switch (kind) {
    case AdsCursor::Kind::kSubscribe:
      return "subscribe";
    case AdsCursor::Kind::kAck:
      return "ack";
    case AdsCursor::Kind::kNack:
      return "nack";
    case AdsCursor::Kind::kStale:
      return "stale";
  }
  return "?";
}

// The cluster (and route) name of a refused listener name.
constexpr char kRefused[] = "jawlb-refused:";

struct AdsMetrics {
  metrics::Counter started;
  metrics::CounterMap requests{{"type", "kind"}};  // kind: subscribe, ack, nack, stale
  metrics::CounterMap responses{{"type"}};
  metrics::Counter refused;  // streams refused by a bound
  metrics::Histogram propagation{metrics::Histogram::LatencyBounds()};

  // `connected`: the ADS streams open now.
  void WriteTo(metrics::TextWriter& out, size_t connected) const {
    out.Gauge("jawlb_xds_clients", "ADS streams open now.", static_cast<double>(connected));
    out.Counter("jawlb_xds_streams_started_total", "ADS streams accepted.",
                static_cast<double>(started.value()));
    out.Counters("jawlb_xds_requests_total",
                 "Requests on ADS streams, by resource type and kind (subscribe: a first or "
                 "renewed subscription; ack; nack: the client refused a response; stale: "
                 "superseded by a response in flight).",
                 requests);
    out.Counters("jawlb_xds_responses_total", "Responses pushed on ADS streams, by resource type.",
                 responses);
    out.Histogram("jawlb_xds_propagation_seconds",
                  "Time from the source seeing a change (a watch event arriving) to the "
                  "assignment that carries it being written to an xDS client; one observation "
                  "per client and change (not for a client's first assignment).",
                  propagation);
  }
};

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_ADS_METRICS_H_
