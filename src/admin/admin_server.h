// AdminServer: the operator's HTTP listener (JAWLB_ADMINHOST:JAWLB_ADMINPORT).
//   /readyz       200 when ready, else 503 with the reason
//   /healthz      200 while the process makes progress (the gRPC server answers
//                 its own health check, the Kubernetes I/O thread moves), else
//                 503 naming what is stuck
//   /metrics      Prometheus text format 0.0.4: the components' metrics and the
//                 process's
//   /debug/state  JSON: readiness, the source (resourceVersion, every endpoint
//                 with its conditions), the list being sent (version, backends)
//                 and every connected client
//   /             the same at a glance, as a small HTML page
// It only reads: every view it is given is thread-safe. GET and HEAD only; the
// bounds on what a client of the port can make it do are HttpServer's.
//
// Owns its HTTP server and thread; borrows what AdminView points at, which must
// outlive Stop().
// Threading: Start() and Stop() on the main thread; handlers run on the HTTP
// server's thread.
#ifndef JAWLB_ADMIN_ADMIN_SERVER_H_
#define JAWLB_ADMIN_ADMIN_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

#include "admin/http_server.h"
#include "common/metrics.h"
#include "discovery/source.h"
#include "grpclb/client_registry.h"
#include "grpclb/hub.h"
#include "health/health_checked_source.h"
#include "k8s/api_monitor.h"

namespace jawlb::admin {

struct AdminView {
  std::function<std::string()> not_ready_reason;            // "" when ready
  std::function<std::string()> stuck_reason;                // "" while everything makes progress
  std::function<void(metrics::TextWriter&)> write_metrics;  // every component's
  std::string source;                // what the backends come from, for people
  std::string service;               // the `service` label: "namespace/name", "static" or "file"
  std::string replica;               // this process in load_balance_tokens
  const grpclb::Hub* hub = nullptr;  // the list sent (single mode; null: multi)
  const grpclb::ClientRegistry* clients = nullptr;      // grpclb streams
  const grpclb::ClientRegistry* xds_clients = nullptr;  // ADS streams (null: none)
  // LRS streams: their load goes with the ADS stream of the same peer (a
  // client's xDS channel carries both on one connection). Null: none.
  const grpclb::ClientRegistry* xds_load_reporters = nullptr;
  const discovery::Source* endpoints = nullptr;  // every endpoint with its conditions (single mode)
  // Multi mode: a JSON array describing each service watched (null: single).
  std::function<std::string()> services;
  // Multi mode: the backends sent, summed over the services (null: the Hub's
  // list's).
  std::function<size_t()> backends_sent;
  const k8s::ApiMonitor* kubernetes = nullptr;  // null unless watching Kubernetes
  // Null unless JAWLB_HEALTHCHECK=grpc (single mode).
  const health::HealthCheckedSource* health = nullptr;
};

class AdminServer {
 public:
  // Listens on `host` ("" = all interfaces, IPv6 and IPv4, as the gRPC port)
  // and `port` (0 = any free port). Unavailable when it cannot bind.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(const std::string& host, int port,
                                                            AdminView view);
  ~AdminServer();

  int port() const { return http_->port(); }
  // Stops serving and joins the thread. Idempotent.
  void Stop();

 private:
  explicit AdminServer(AdminView view);
  HttpServer::Response Handle(const HttpServer::Request& request) const;
  std::string Metrics() const;
  std::string StateJson() const;
  // Every connected client: grpclb's, then xDS's.
  std::vector<grpclb::ClientInfo> AllClients() const;
  // The newest list sent (single mode); null before the first, or in multi mode.
  grpclb::SnapshotPtr LatestList() const;
  // The source's endpoints; none in multi mode.
  std::vector<discovery::EndpointState> Endpoints() const;
  std::string StatePage() const;

  // Constant after construction.
  const AdminView view_;

  // The owner's thread (Start, Stop).
  std::unique_ptr<HttpServer> http_;
  // http_.get() once Start() has it, for the handlers on the server's own
  // thread, which may run before Start() returns (a scrape at once).
  std::atomic<const HttpServer*> serving_{nullptr};
};

}  // namespace jawlb::admin

#endif  // JAWLB_ADMIN_ADMIN_SERVER_H_
