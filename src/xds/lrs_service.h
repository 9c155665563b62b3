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
// Threading: AddTo/Start/Drain/Stop on the App's thread; the streams run on
// the completion-queue threads.
#ifndef JAWLB_XDS_LRS_SERVICE_H_
#define JAWLB_XDS_LRS_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "common/clock.h"
#include "envoy/service/load_stats/v3/lrs.grpc.pb.h"
#include "grpclb/client_registry.h"
#include "grpclb/service_unit.h"
#include "grpclb/stream_limits.h"
#include "transport/completion_queues.h"
#include "transport/stream_count.h"
#include "xds/ads_stream.h"

namespace jawlb::xds {

class LrsService {
 public:
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

  LrsService(transport::CompletionQueues& queues, ClusterLookup lookup, Options options);
  ~LrsService();
  LrsService(const LrsService&) = delete;
  LrsService& operator=(const LrsService&) = delete;

  void AddTo(grpc::ServerBuilder& builder) { builder.RegisterService(&service_); }
  void Start();
  void Drain();
  void Stop();

  // The LRS streams open now, each Describe()d with its peer and its
  // client's load over every cluster it reports (for /debug/state, beside
  // the client's ADS stream: one connection carries both).
  const grpclb::ClientRegistry& streams() const { return streams_; }

  // Reports accepted and rejected (jawlb_xds_load_reports_total{result}).
  void WriteMetrics(metrics::TextWriter& out) const;

  class Stream;

 private:
  using AsyncLrs =
      envoy::service::load_stats::v3::LoadReportingService::WithAsyncMethod_StreamLoadStats<
          envoy::service::load_stats::v3::LoadReportingService::Service>;

  transport::CompletionQueues& queues_;
  const ClusterLookup lookup_;
  const Options options_;
  AsyncLrs service_;
  grpclb::ClientRegistry streams_;  // for the drain and /debug/state
  transport::StreamCount live_;
  std::atomic<bool> draining_{false};
  metrics::CounterMap reports_{{"result"}};
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_LRS_SERVICE_H_
