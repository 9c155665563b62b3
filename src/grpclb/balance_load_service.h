// BalanceLoadService: the grpc.lb.v1.LoadBalancer service. Each BalanceLoad
// stream is a BalanceLoadStream fed by the Hub, on completion queues drained by
// the service's own threads (one per queue; DefaultThreads() says how many).
//
// Use: AddTo(builder) before builder.BuildAndStart(), Start() after it, and
// Stop() after server->Shutdown().
//
// Owns the encoded InitialLoadBalanceResponse, the registry of connected
// clients, the stream metrics and the completion-queue threads; borrows the
// Hub, which must outlive Stop(). While started, the Hub's wakes run on the
// completion-queue threads (one shard each).
//
// Threading: AddTo/Start/Stop on one thread (the App's); the rest thread-safe.
#ifndef JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_
#define JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_

#include <memory>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

#include "grpclb/balance_load_stream.h"
#include "grpclb/client_registry.h"
#include "grpclb/hub.h"
#include "grpclb/load_shedding.h"
#include "grpclb/stream_metrics.h"
#include "grpclb/subset_policy.h"

namespace jawlb::grpclb {

class BalanceLoadService {
 public:
  struct Options {
    // What the InitialLoadBalanceResponse asks clients for (zero: no reports).
    absl::Duration client_stats_interval = absl::Seconds(10);
    // The time constant of each client's smoothed call rates.
    absl::Duration load_smoothing = absl::Seconds(30);
    SubsetPolicy* policy = nullptr;    // borrowed; gives each client its own list
    LoadShedding* shedding = nullptr;  // borrowed; told every client's rate
    std::string replica;               // names this process in tokens ("": none)
    // Multi mode: routes each client's name to its service's Hub (the Hub
    // given to the constructor then only closes streams, for the drain).
    ServiceResolver resolver;
    StreamLimits::Options limits;
    // A stream without its initial request this long after it opened is ended.
    absl::Duration first_message_timeout = absl::Seconds(10);
  };

  BalanceLoadService(Hub& hub, Options options);
  ~BalanceLoadService();
  BalanceLoadService(const BalanceLoadService&) = delete;
  BalanceLoadService& operator=(const BalanceLoadService&) = delete;

  // Registers the service and `threads` completion queues (0: DefaultThreads())
  // with `builder`.
  void AddTo(grpc::ServerBuilder& builder, int threads = 0);
  // Eight per core, 8 to 64 (see the .cc for why so many): what AddTo(builder)
  // uses, and the App's Hub shards.
  static int DefaultThreads();
  // Starts taking streams. REQUIRES: the server is built and started, and
  // listens on `port`.
  void Start(int port = 0);
  // Runs a Hub's wakes on these queues (one shard per queue), as Start() does
  // for the service's Hub: for the Hubs of multi mode's service units, which
  // must go back to no runner before Stop(). REQUIRES: Start() was called.
  Hub::WakeRunner wake_runner();
  // Drains the queues and joins the threads. REQUIRES: the server was shut
  // down (its Shutdown() returned). Idempotent.
  void Stop();

  // The clients connected now.
  const ClientRegistry& clients() const { return clients_; }

  // Streams, lists written and load reported; clients connected now.
  void WriteMetrics(metrics::TextWriter& out) const;
  const StreamMetrics& metrics() const { return metrics_; }
  const StreamLimits& limits() const { return limits_; }

 private:
  // Constant after construction.
  const grpc::ByteBuffer initial_response_;
  const std::string replica_;

  SubsetPolicy no_policy_{0};
  LoadShedding no_shedding_;
  AsyncLoadBalancer service_;
  ClientRegistry clients_;
  StreamMetrics metrics_;
  StreamCount live_;
  StreamLimits limits_;
  SharedLogThrottle end_log_{absl::Seconds(1)};
  const ServiceResolver resolver_;
  const BalanceLoadStream::Shared shared_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> threads_;
  bool stopped_ = false;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_BALANCE_LOAD_SERVICE_H_
