// App: the composition root. Builds the backend Source, the Hub and the gRPC
// server from a Config, wires them in flow order (Source → Hub → streams) and
// drains them on shutdown. The only code that names concrete implementations.
//
// Owns everything it builds. Threading: confined to the main thread, except
// Hurry() (any thread).
#ifndef JAWLB_APP_APP_H_
#define JAWLB_APP_APP_H_

#include <atomic>
#include <memory>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/grpcpp.h"

#include "admin/admin_server.h"
#include "app/readiness.h"
#include "app/service_directory.h"
#include "common/log_throttle.h"
#include "config/config.h"
#include "discovery/k8s_source.h"
#include "discovery/source.h"
#include "grpclb/balance_load_service.h"
#include "grpclb/connection_listener.h"
#include "grpclb/hub.h"
#include "grpclb/server_list.h"
#include "health/health_checker.h"
#include "k8s/api_monitor.h"
#include "k8s/cluster_access.h"
#include "k8s/curl_transport.h"

namespace jawlb::app {

// What a source is, for people and for the `service` metric label.
struct SourceInfo {
  std::string description;
  std::string service;  // "namespace/name", "static" or "file"
};

class App {
 public:
  // Starts discovery and then the gRPC server. Errors: whatever the source's
  // Start() returns (a bad endpoints file), Unavailable when the port cannot be
  // bound. Does not block.
  static absl::StatusOr<std::unique_ptr<App>> Start(const config::Config& config);

  ~App();

  // The port the gRPC server listens on (the chosen one when JAWLB_PORT=0).
  int port() const { return port_; }

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
  // The steps of Start(): the gRPC port, the source (single mode) or the
  // service directory (multi mode), the gRPC server, the admin listener.
  absl::Status BindPort();
  absl::Status StartSource(SourceInfo& info);
  absl::Status StartDirectory(SourceInfo& info);
  absl::Status StartServer();
  absl::Status StartAdmin(const SourceInfo& info);
  // Multi mode: the unit of `service`, its source started.
  absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> MakeUnit(const routing::ServiceRef& service);
  // Multi mode: /debug/state's "services".
  std::string ServicesJson() const;
  // A complete set from the source (its thread, or main during Start()), or
  // the healthy part of it from the health checker (its thread).
  void OnBackends(discovery::BackendSet backends, absl::Time observed);
  // `backends` without jawlb's own gRPC address (a static list or file naming
  // it would send clients' calls to the balancer), logged when one is left out.
  discovery::BackendSet WithoutSelf(discovery::BackendSet backends);
  // What has stopped making progress, "" when nothing (for /healthz).
  std::string StuckReason();
  // Whether the gRPC server answers its own health check, on a new connection.
  bool GrpcServerAnswers();

  // Constant after construction.
  const config::Config config_;

  Readiness readiness_;
  // Names this process in load_balance_tokens (server_list.h).
  const std::string replica_;
  grpclb::Hub hub_{static_cast<size_t>(grpclb::BalanceLoadService::DefaultThreads()),
                   config_.lb_tokens ? grpclb::TokenPrefix(replica_, 0) : ""};
  discovery::BackendSet last_backends_;          // for the change log; source thread only
  absl::flat_hash_set<std::string> own_ips_;     // where clients reach us; set by BindPort()
  LogThrottle self_log_;                         // source thread only
  std::unique_ptr<k8s::ApiMonitor> kubernetes_;  // when watching Kubernetes; outlives source_
  std::unique_ptr<k8s::CurlIo> kube_io_;         // the Kubernetes I/O thread; outlives every source
  std::unique_ptr<discovery::Source> source_;    // single mode
  std::unique_ptr<ServiceDirectory> directory_;  // multi mode
  std::optional<k8s::ClusterAccess> access_;     // multi mode: read once at start
  // Multi mode: API discovery's answer, asked by the first service only.
  std::shared_ptr<discovery::K8sSource::ApiChoice> api_choice_ =
      std::make_shared<discovery::K8sSource::ApiChoice>();
  // JAWLB_HEALTHCHECK=grpc: between the source and OnBackends (then called on
  // the checker's thread only).
  std::unique_ptr<health::HealthChecker> health_;
  grpclb::SubsetPolicy policy_;    // JAWLB_MAXSERVERS
  grpclb::LoadShedding shedding_;  // JAWLB_MAXRPSPERBACKEND
  std::unique_ptr<grpclb::BalanceLoadService> service_;
  std::unique_ptr<grpclb::ConnectionListener> listener_;  // the gRPC port's accepts
  std::unique_ptr<grpc::Server> server_;
  std::string self_target_;  // where to ask the server about itself
  std::unique_ptr<admin::AdminServer> admin_;
  int port_ = 0;
  bool shut_down_ = false;
  absl::Notification hurry_;  // a second termination signal during the drain
  std::atomic<bool> hurried_{false};
};

}  // namespace jawlb::app

#endif  // JAWLB_APP_APP_H_
