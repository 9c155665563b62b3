// App: the composition root. Builds the parts from a Config in dependency
// order — the gRPC port, the completion queues, the unit factory, the service
// units (one, or a directory of them), the BalanceLoad service and the gRPC
// server, the admin listener — and drains them on shutdown. It only wires:
// what a list goes through is in the parts (grpclb/service_unit.h).
//
// Owns everything it builds. Threading: confined to the main thread, except
// Hurry() (any thread).
#ifndef JAWLB_APP_APP_H_
#define JAWLB_APP_APP_H_

#include <atomic>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/grpcpp.h"

#include "admin/admin_server.h"
#include "app/health_service.h"
#include "app/liveness.h"
#include "app/protocols.h"
#include "app/readiness.h"
#include "app/service_directory.h"
#include "app/unit_factory.h"
#include "config/config.h"
#include "grpclb/service_unit.h"
#include "transport/completion_queues.h"
#include "transport/connection_listener.h"
#include "transport/h2_server.h"
#include "transport/tls.h"

namespace jawlb::app {

class App {
 public:
  // Starts discovery and the gRPC server. Errors: the unit factory's (no
  // credentials), the source's Start() (a bad endpoints file), Unavailable
  // when a port cannot be bound. Does not block.
  static absl::StatusOr<std::unique_ptr<App>> Start(const config::Config& config);

  ~App();

  // The port the gRPC server listens on (the chosen one when JAWLB_PORT=0).
  int port() const { return listener_->port(); }

  // Drain, then stop: readiness and health turn NOT_SERVING at once; for
  // JAWLB_DRAINDELAY streams are still accepted and served (Kubernetes needs a
  // moment to stop routing to this pod); then open streams end with UNAVAILABLE
  // (clients reconnect elsewhere and keep their lists meanwhile) once their
  // in-flight write is done; whatever is open at JAWLB_SHUTDOWNGRACEPERIOD
  // (counted from the call) is cancelled. Blocks until done. Idempotent.
  void Shutdown();

  // During Shutdown() (from another thread): cuts the drain delay short and
  // ends the open streams at once instead of letting them finish their write.
  // Thread-safe; does nothing before or after a drain.
  void Hurry() {
    if (!hurried_.exchange(true)) hurry_.Notify();
  }

  const Readiness& readiness() const { return readiness_; }

 private:
  explicit App(const config::Config& config);
  // The steps of Start(), in order.
  absl::Status BindPort();
  absl::Status MakeServices();
  absl::Status StartServer();
  // StartServer()'s two ways: the protocols on jawlb's HTTP/2 server, or on
  // gRPC C++'s.
  absl::Status StartH2();
  absl::Status StartGrpc();
  // Where Hub wakes run: the threads of the transport's calls.
  size_t shards() const { return h2_ != nullptr ? h2_->loop_count() : queues_.size(); }
  grpclb::Hub::WakeRunner wake_runner() {
    return h2_ != nullptr ? h2_->wake_runner() : queues_.wake_runner();
  }
  absl::Status StartAdmin();
  // Every part's metrics.
  void WriteMetrics(metrics::TextWriter& out) const;

  // Constant after construction.
  const config::Config config_;
  const std::string replica_;  // names this process in load_balance_tokens

  Readiness readiness_;
  std::unique_ptr<transport::ConnectionListener> listener_;  // the gRPC port's accepts
  transport::CompletionQueues queues_;
  std::unique_ptr<UnitFactory> factory_;         // outlives the units
  std::shared_ptr<grpclb::ServiceUnit> unit_;    // single mode: every name's
  std::unique_ptr<ServiceDirectory> directory_;  // multi mode: a unit per service
  std::unique_ptr<Protocols> protocols_;         // grpclb and xDS, from the units
  std::unique_ptr<transport::ServerTls> tls_;    // JAWLB_TLSCERT: the port's identity
  // What serves the port (JAWLB_TRANSPORT): jawlb's HTTP/2 server with its
  // health service, or gRPC C++'s server (with gRPC's own health service).
  std::unique_ptr<transport::H2Server> h2_;
  HealthService health_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Liveness> liveness_;
  std::unique_ptr<admin::AdminServer> admin_;
  bool serving_ = false;  // the port's server started
  bool shut_down_ = false;
  absl::Notification hurry_;  // a second termination signal during the drain
  std::atomic<bool> hurried_{false};
};

}  // namespace jawlb::app

#endif  // JAWLB_APP_APP_H_
