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

#include <array>
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
  static constexpr size_t kKinds = 4;

  // A request of `type` and `kind`; a response of `type`. Fixed counters, no
  // label lookup: every stream counts every ACK.
  void Request(AdsCursor::Type type, AdsCursor::Kind kind) {
    requests[static_cast<size_t>(type)][static_cast<size_t>(kind)].Add();
  }
  void Response(AdsCursor::Type type) { responses[static_cast<size_t>(type)].Add(); }

  metrics::Counter started;
  std::array<std::array<metrics::Counter, kKinds>, AdsCursor::kTypes> requests;
  std::array<metrics::Counter, AdsCursor::kTypes> responses;
  metrics::Counter refused;  // streams refused by a bound
  metrics::Histogram propagation{metrics::Histogram::LatencyBounds()};

  // `connected`: the ADS streams open now.
  void WriteTo(metrics::TextWriter& out, size_t connected) const {
    out.Gauge("jawlb_xds_clients", "ADS streams open now.", static_cast<double>(connected));
    out.Counter("jawlb_xds_streams_started_total", "ADS streams accepted.",
                static_cast<double>(started.value()));
    out.Header("jawlb_xds_requests_total", "counter",
               "Requests on ADS streams, by resource type and kind (subscribe: a first or "
               "renewed subscription; ack; nack: the client refused a response; stale: "
               "superseded by a response in flight).");
    for (size_t type = 0; type < AdsCursor::kTypes; ++type) {
      for (size_t kind = 0; kind < kKinds; ++kind) {
        out.Sample("jawlb_xds_requests_total",
                   {{"type", TypeLabel(static_cast<AdsCursor::Type>(type))},
                    {"kind", KindLabel(static_cast<AdsCursor::Kind>(kind))}},
                   static_cast<double>(requests[type][kind].value()));
      }
    }
    out.Header("jawlb_xds_responses_total", "counter",
               "Responses pushed on ADS streams, by resource type.");
    for (size_t type = 0; type < AdsCursor::kTypes; ++type) {
      out.Sample("jawlb_xds_responses_total",
                 {{"type", TypeLabel(static_cast<AdsCursor::Type>(type))}},
                 static_cast<double>(responses[type].value()));
    }
    out.Histogram("jawlb_xds_propagation_seconds",
                  "Time from the source seeing a change (a watch event arriving) to the "
                  "assignment that carries it being written to an xDS client; one observation "
                  "per client and change (not for a client's first assignment).",
                  propagation);
  }
};

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_ADS_METRICS_H_
