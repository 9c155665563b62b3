// BalanceLoadService: the grpc.lb.v1.LoadBalancer service. Each BalanceLoad
// call, on whichever transport carries it (Handler() is the method's
// handler), is a BalanceLoadCall served from the unit its client's name
// resolves to.
//
// Use: give Handler() to the transport for kBalanceLoadMethod before it
// starts, Start() once it listens, Drain() to end every stream.
//
// Owns the encoded InitialLoadBalanceResponse, the registry of connected
// clients, the stream metrics and the limits.
//
// Threading: AddTo/Start/Drain/Stop on one thread (the App's); the rest
// thread-safe.
#ifndef JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_
#define JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_

#include <atomic>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "grpclb/balance_load_call.h"
#include "grpclb/client_registry.h"
#include "grpclb/service_unit.h"
#include "grpclb/stream_metrics.h"
#include "transport/server_call.h"

namespace jawlb::grpclb {

class BalanceLoadService {
 public:
  struct Options {
    // What the InitialLoadBalanceResponse asks clients for (zero: no reports).
    absl::Duration client_stats_interval = absl::Seconds(10);
    // The time constant of each client's smoothed call rates.
    absl::Duration load_smoothing = absl::Seconds(30);
    std::string replica;  // names this process in tokens ("": none)
    StreamLimits::Options limits;
    // A stream without its initial request this long after it opened is ended.
    absl::Duration first_message_timeout = absl::Seconds(10);
    // What the calls read the time from (borrowed; outlives the service).
    // The first-message deadline is the transport's timer: real time.
    const Clock* clock = &Clock::Real();
  };

  // `resolver`: each client's name to its service's unit.
  BalanceLoadService(ServiceResolver resolver, Options options);
  BalanceLoadService(const BalanceLoadService&) = delete;
  BalanceLoadService& operator=(const BalanceLoadService&) = delete;

  // The handler of kBalanceLoadMethod. The service must outlive the calls.
  transport::MethodHandler Handler();
  // The port the transport listens on (the limits know jawlb's own address).
  void Start(int port = 0);
  // Ends every stream with UNAVAILABLE once its write in flight is done, and
  // every stream that starts from now on at once. Idempotent.
  void Drain();

  // The clients connected now.
  const ClientRegistry& clients() const { return clients_; }

  // Streams, lists written and load reported; clients connected now.
  void WriteMetrics(metrics::TextWriter& out) const;
  const StreamMetrics& metrics() const { return metrics_; }
  // The stream bounds, which the other protocols' streams (xDS) share, so a
  // client's streams of both kinds count together.
  StreamLimits& limits() { return limits_; }
  const StreamLimits& limits() const { return limits_; }

 private:
  // Constant after construction.
  const transport::SharedBytes initial_response_;
  const std::string replica_;
  const ServiceResolver resolver_;

  ClientRegistry clients_;
  StreamMetrics metrics_;
  StreamLimits limits_;
  SharedLogThrottle end_log_{absl::Seconds(1)};
  std::atomic<bool> draining_{false};
  const BalanceLoadCall::Shared shared_;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_
