// LrsService: envoy.service.load_stats.v3.LoadReportingService on jawlb's
// gRPC port. xDS clients open it when their Cluster names `lrs_server: self`
// (jawlb's do when JAWLB_CLIENTSTATSINTERVAL is not zero), and report per
// cluster and locality what they issued, what succeeded or failed, and what
// they dropped by category. Each report becomes the same per-client load a
// grpclb client's ClientStats does: the cluster's unit's load shedding hears
// it (so xDS clients' demand counts toward JAWLB_MAXRPSPERBACKEND), and with
// subsetting its subset policy, for the client's ADS streams of that cluster
// (found by SubsetKey(): the client's address and the cluster).
//
// The first response asks for every cluster (`send_all_clusters`: grpc-js-xds
// never reports the first cluster of an explicit list) at
// JAWLB_CLIENTSTATSINTERVAL.
//
// Threading: Drain() on the App's thread; the streams run on their calls
// (transport::ServerCall), on whichever transport carries them.
#ifndef JAWLB_XDS_LRS_SERVICE_H_
#define JAWLB_XDS_LRS_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"

#include "common/clock.h"
#include "grpclb/client_registry.h"
#include "grpclb/service_unit.h"
#include "grpclb/stream_limits.h"
#include "transport/server_call.h"
#include "xds/ads_stream.h"

namespace jawlb::xds {

class LrsService {
 public:
  static constexpr char kMethod[] =
      "/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats";

  // The unit serving `cluster` now (a service key), or null.
  using ClusterLookup = std::function<std::shared_ptr<grpclb::ServiceUnit>(const std::string&)>;

  struct Options {
    absl::Duration interval = absl::Seconds(10);   // JAWLB_CLIENTSTATSINTERVAL
    absl::Duration smoothing = absl::Seconds(30);  // JAWLB_LOADSMOOTHING
    const Clock* clock = &Clock::Real();
    grpclb::StreamLimits* limits = nullptr;  // shared with the other streams
    // A stream with no report this long after it opened ends.
    absl::Duration first_message_timeout = absl::Seconds(10);  // JAWLB_FIRSTMESSAGETIMEOUT
  };

  LrsService(ClusterLookup lookup, Options options);
  LrsService(const LrsService&) = delete;
  LrsService& operator=(const LrsService&) = delete;

  // The handler of kMethod. The service must outlive the calls.
  transport::MethodHandler Handler();
  // Ends every stream (UNAVAILABLE), and every new one. Idempotent.
  void Drain();

  // The LRS streams open now, each Describe()d with its peer and its
  // client's load over every cluster it reports (for /debug/state, beside
  // the client's ADS stream: one connection carries both).
  const grpclb::ClientRegistry& streams() const { return streams_; }

  // Reports accepted and rejected (jawlb_xds_load_reports_total{result}).
  void WriteMetrics(metrics::TextWriter& out) const;

  class Call;

 private:
  const ClusterLookup lookup_;
  const Options options_;
  const transport::SharedBytes response_;  // the first answer, framed once
  grpclb::ClientRegistry streams_;         // for the drain and /debug/state
  std::atomic<bool> draining_{false};
  metrics::CounterMap reports_{{"result"}};
};

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_LRS_SERVICE_H_
