// Protocols: the load-balancing services on jawlb's gRPC port, built from the
// configuration — grpclb's BalanceLoad, xDS's ADS and LRS — all served from
// the service units the resolver names, on the same completion queues, and
// sharing one set of stream bounds (JAWLB_MAXSTREAMS...). The App starts,
// drains and stops them together.
//
// Threading: AddTo/Start/Drain/Stop on the App's thread; the rest thread-safe.
#ifndef JAWLB_APP_PROTOCOLS_H_
#define JAWLB_APP_PROTOCOLS_H_

#include <string>

#include "grpc/lb/v1/load_balancer.grpc.pb.h"
#include "grpcpp/grpcpp.h"

#include "config/config.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "envoy/service/load_stats/v3/lrs.grpc.pb.h"
#include "grpclb/balance_load_service.h"
#include "grpclb/service_unit.h"
#include "transport/completion_queues.h"
#include "transport/grpc_calls.h"
#include "transport/h2_server.h"
#include "xds/ads_service.h"
#include "xds/lrs_service.h"

namespace jawlb::app {

class Protocols {
 public:
  // `resolver`: a client's name → its unit; `clusters`: a service key → its
  // unit if served now (load reports); `replica`: this process, in tokens and
  // xDS versions. Borrows `config` and `queues`.
  Protocols(const config::Config& config, transport::CompletionQueues& queues,
            grpclb::ServiceResolver resolver, xds::LrsService::ClusterLookup clusters,
            const std::string& replica);

  // Serves the protocols on gRPC C++'s server (`builder`'s), or on jawlb's
  // HTTP/2 server (before it starts). One of the two.
  void AddTo(grpc::ServerBuilder& builder);
  void AddTo(transport::H2Server& server);
  // REQUIRES: the server runs on `port` (and on gRPC's, the queues run).
  void Start(int port);
  // Ends every stream of every protocol (UNAVAILABLE), and every new one.
  void Drain();
  // REQUIRES: the server was shut down.
  void Stop();

  // Streams open now, every protocol.
  size_t streams() const { return grpclb_.clients().size() + ads_.clients().size(); }
  const grpclb::ClientRegistry& grpclb_clients() const { return grpclb_.clients(); }
  const grpclb::ClientRegistry& xds_clients() const { return ads_.clients(); }
  const grpclb::ClientRegistry& xds_load_reporters() const { return lrs_.streams(); }
  void WriteMetrics(metrics::TextWriter& out) const;

 private:
  // The calls of the transport-neutral services (BalanceLoad, ADS, LRS), on
  // gRPC C++'s server.
  transport::GrpcCalls calls_;
  // grpc.lb.v1.LoadBalancer as a raw async service whose calls GrpcCalls
  // asks for (so gRPC knows it by name: reflection lists it).
  grpc::lb::v1::LoadBalancer::WithRawMethod_BalanceLoad<grpc::lb::v1::LoadBalancer::Service>
      load_balancer_;
  envoy::service::load_stats::v3::LoadReportingService::WithRawMethod_StreamLoadStats<
      envoy::service::load_stats::v3::LoadReportingService::Service>
      load_reporting_;
  envoy::service::discovery::v3::AggregatedDiscoveryService::
      WithRawMethod_StreamAggregatedResources<
          envoy::service::discovery::v3::AggregatedDiscoveryService::Service>
          discovery_;
  grpclb::BalanceLoadService grpclb_;
  xds::AdsService ads_;
  xds::LrsService lrs_;
  bool on_grpc_ = true;  // served by calls_ (else by jawlb's HTTP/2 server)
};

}  // namespace jawlb::app

#endif  // JAWLB_APP_PROTOCOLS_H_
