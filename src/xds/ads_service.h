// AdsService: envoy.service.discovery.v3.AggregatedDiscoveryService on
// jawlb's gRPC port, beside BalanceLoad, served from the same service units
// (the resolver of grpclb names resolves xDS listener names too). Each ADS
// stream is an AdsStream on whichever transport carries the call.
//
// Threading: Handler() and Drain() on the App's thread; the streams run on
// their calls; clients() and WriteMetrics() are thread-safe.
#ifndef JAWLB_XDS_ADS_SERVICE_H_
#define JAWLB_XDS_ADS_SERVICE_H_

#include <atomic>
#include <string>

#include "common/clock.h"
#include "grpclb/client_registry.h"
#include "grpclb/service_unit.h"
#include "grpclb/stream_limits.h"
#include "transport/server_call.h"
#include "xds/ads_stream.h"
#include "xds/resource_cache.h"

namespace jawlb::xds {

class AdsService {
 public:
  struct Options {
    // Names this process in every version sent (so versions never repeat
    // across restarts or replicas).
    std::string version_prefix;
    const Clock* clock = &Clock::Real();
    // Bounds on streams, shared with grpclb's (borrowed; null: none).
    grpclb::StreamLimits* limits = nullptr;
    // Whether Clusters ask clients for load reports (LRS to this server).
    bool load_reports = false;
    // A stream with no request this long after it opened ends.
    absl::Duration first_message_timeout = absl::Seconds(10);  // JAWLB_FIRSTMESSAGETIMEOUT
  };

  AdsService(grpclb::ServiceResolver resolver, Options options);
  AdsService(const AdsService&) = delete;
  AdsService& operator=(const AdsService&) = delete;

  // The handler of AdsStream::kMethod. The service must outlive the calls.
  transport::MethodHandler Handler();
  // Ends every stream with UNAVAILABLE (clients keep their resources and
  // reconnect elsewhere), and every stream that starts from now on.
  void Drain();

  // The xDS clients connected now.
  const grpclb::ClientRegistry& clients() const { return clients_; }
  // By resource type: requests, ACKs, NACKs, responses; clients connected.
  void WriteMetrics(metrics::TextWriter& out) const { metrics_.WriteTo(out, clients_.size()); }

 private:
  const grpclb::ServiceResolver resolver_;
  grpclb::ClientRegistry clients_;
  AdsMetrics metrics_;
  ResourceCache resources_;
  SharedLogThrottle nack_log_{absl::Seconds(1)};
  std::atomic<bool> draining_{false};
  const AdsStream::Shared shared_;
};

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_ADS_SERVICE_H_
