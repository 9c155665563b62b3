// BalanceLoadService: the grpc.lb.v1.LoadBalancer service. Each BalanceLoad
// stream gets a BalanceLoadReactor fed by the Hub. Messages travel as raw
// ByteBuffers so every stream writes the Hub's already-encoded bytes.
//
// Owns the encoded InitialLoadBalanceResponse, the registry of connected
// clients and the stream metrics; borrows the Hub, which must outlive the
// grpc::Server this service is registered with.
//
// Threading: thread-safe; gRPC calls BalanceLoad() on its callback threads.
#ifndef JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_
#define JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_

#include "absl/time/time.h"
#include "grpc/lb/v1/load_balancer.grpc.pb.h"

#include "grpclb/client_registry.h"
#include "grpclb/hub.h"
#include "grpclb/stream_metrics.h"

namespace jawlb::grpclb {

class BalanceLoadService final
    : public grpc::lb::v1::LoadBalancer::WithRawCallbackMethod_BalanceLoad<
          grpc::lb::v1::LoadBalancer::Service> {
 public:
  // `client_stats_interval` is what the InitialLoadBalanceResponse asks clients
  // for (zero: no load reports).
  BalanceLoadService(Hub& hub, absl::Duration client_stats_interval);

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* BalanceLoad(
      grpc::CallbackServerContext* context) override;

  // The clients connected now.
  const ClientRegistry& clients() const { return clients_; }

  // Streams, lists written and load reported; clients connected now.
  void WriteMetrics(metrics::TextWriter& out) const { metrics_.WriteTo(out, clients_.size()); }
  const StreamMetrics& metrics() const { return metrics_; }

 private:
  // Constant after construction.
  Hub& hub_;
  const grpc::ByteBuffer initial_response_;

  ClientRegistry clients_;
  StreamMetrics metrics_;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_
