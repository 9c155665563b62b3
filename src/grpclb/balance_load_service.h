// BalanceLoadService: the grpc.lb.v1.LoadBalancer service. Each BalanceLoad
// stream is a BalanceLoadStream, run on the transport::CompletionQueues it is given and
// served from the unit its client's name resolves to.
//
// Use: AddTo(builder) before builder.BuildAndStart(), Start() after it (and
// after the queues' Start()), Drain() to end every stream, and Stop() after
// server->Shutdown() and before the queues' Stop().
//
// Owns the encoded InitialLoadBalanceResponse, the registry of connected
// clients, the stream metrics and the limits; borrows the queues.
//
// Threading: AddTo/Start/Drain/Stop on one thread (the App's); the rest
// thread-safe.
#ifndef JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_
#define JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_

#include <atomic>
#include <string>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "grpclb/balance_load_stream.h"
#include "grpclb/client_registry.h"
#include "grpclb/service_unit.h"
#include "grpclb/stream_metrics.h"
#include "transport/completion_queues.h"

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
    // What the streams read the time from (borrowed; outlives the service).
    // The first-message deadline is a gRPC alarm: real time.
    const Clock* clock = &Clock::Real();
  };

  // `resolver`: each client's name to its service's unit.
  BalanceLoadService(transport::CompletionQueues& queues, ServiceResolver resolver,
                     Options options);
  ~BalanceLoadService();
  BalanceLoadService(const BalanceLoadService&) = delete;
  BalanceLoadService& operator=(const BalanceLoadService&) = delete;

  // Registers the service with `builder`.
  void AddTo(grpc::ServerBuilder& builder);
  // Starts taking streams. REQUIRES: the server is built and started, listens
  // on `port`, and the queues run.
  void Start(int port = 0);
  // Ends every stream with UNAVAILABLE once its write in flight is done, and
  // every stream that starts from now on at once. Idempotent.
  void Drain();
  // Waits (30 s at most) until every stream has let go of its call, so none
  // starts an operation on a queue that is shutting down. REQUIRES: the
  // server was shut down (its Shutdown() returned). Idempotent.
  void Stop();

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
  transport::CompletionQueues& queues_;
  // Constant after construction.
  const grpc::ByteBuffer initial_response_;
  const std::string replica_;
  const ServiceResolver resolver_;

  AsyncLoadBalancer service_;
  ClientRegistry clients_;
  StreamMetrics metrics_;
  transport::StreamCount live_;
  StreamLimits limits_;
  SharedLogThrottle end_log_{absl::Seconds(1)};
  std::atomic<bool> draining_{false};
  const BalanceLoadStream::Shared shared_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_
