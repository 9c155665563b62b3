#include "app/app.h"

#include <utility>

#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "spdlog/spdlog.h"

#include "app/server_settings.h"
#include "common/clock.h"
#include "common/status_macros.h"
#include "discovery/own_address_filter.h"
#include "grpclb/server_list.h"
#include "grpclb/service_unit_report.h"

namespace jawlb::app {

App::App(const config::Config& config) : config_(config), replica_(MakeReplicaTag()) {}

App::~App() { Shutdown(); }

absl::StatusOr<std::unique_ptr<App>> App::Start(const config::Config& config) {
  std::unique_ptr<App> app(new App(config));
  JAWLB_RETURN_IF_ERROR(app->BindPort());
  JAWLB_RETURN_IF_ERROR(app->MakeServices());
  JAWLB_RETURN_IF_ERROR(app->StartServer());
  JAWLB_RETURN_IF_ERROR(app->StartAdmin());
  return app;
}

absl::Status App::BindPort() {
  // jawlb accepts the connections itself (ConnectionListener), so that the
  // limits and running out of descriptors are its own to handle. Bound first:
  // a port in use fails before anything is watched, and the port is known
  // before the first list (to leave jawlb's own address out of it).
  transport::ConnectionListener::Options listen;
  listen.host = config_.host;
  listen.port = config_.port;
  listen.max_connections = ConnectionsWithinFileLimit(config_.max_connections);
  listen.max_per_peer = config_.max_connections_per_peer;
  listen.closes_reported = config_.transport == config::Transport::kH2;
  absl::StatusOr<std::unique_ptr<transport::ConnectionListener>> listener =
      transport::ConnectionListener::Listen(listen);
  if (!listener.ok()) return listener.status();
  listener_ = *std::move(listener);
  if (!config_.tls_cert.empty()) {
    absl::StatusOr<std::unique_ptr<transport::ServerTls>> tls =
        transport::ServerTls::Load({config_.tls_cert, config_.tls_key, config_.tls_client_ca});
    if (!tls.ok()) return tls.status();
    tls_ = *std::move(tls);
    spdlog::info("tls: serving {}", tls_->Describe());
  }
  if (config_.transport == config::Transport::kH2) {
    // Its loops first: the Hubs' wakes run on them.
    transport::H2Server::Options options = H2Options(config_);
    options.tls = tls_.get();
    options.on_close = [listener = listener_.get()](int fd) { listener->Closed(fd); };
    h2_ = std::make_unique<transport::H2Server>(std::move(options));
    if (absl::Status started = h2_->Start(); !started.ok()) return started;
  }
  return absl::OkStatus();
}

absl::Status App::MakeServices() {
  absl::StatusOr<std::unique_ptr<UnitFactory>> factory = UnitFactory::Create(
      config_, shards(), replica_, discovery::OwnAddressFilter(config_.host, listener_->port()));
  if (!factory.ok()) return factory.status();
  factory_ = *std::move(factory);
  if (config_.mode != config::Mode::kMulti) {
    absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> unit =
        factory_->MakeConfigured([this] { readiness_.MarkListed(); });
    if (!unit.ok()) return unit.status();
    unit_ = *std::move(unit);
    return absl::OkStatus();
  }
  ServiceDirectory::Options options;
  options.router.default_namespace = config_.namespace_.empty() ? "default" : config_.namespace_;
  options.router.allowed_namespaces = config_.namespaces;
  options.router.cluster_domain = config_.cluster_domain;
  options.router.name_suffix = config_.name_suffix;
  options.routes_file = config_.routes_file;
  options.idle_timeout = config_.idle_timeout;
  options.max_services = config_.max_services;
  options.max_services_per_peer = config_.max_services_per_peer;
  options.wake_runner = wake_runner();
  absl::StatusOr<std::unique_ptr<ServiceDirectory>> directory = ServiceDirectory::Start(
      std::move(options), [factory = factory_.get()](const routing::ServiceRef& service) {
        return factory->MakeNamed(service);
      });
  if (!directory.ok()) return directory.status();
  directory_ = *std::move(directory);
  readiness_.MarkListed();  // ready once serving: lists come per service
  return absl::OkStatus();
}

absl::Status App::StartServer() {
  grpclb::ServiceResolver resolver;
  if (directory_ != nullptr) {
    resolver = [directory = directory_.get()](absl::string_view name, absl::string_view peer) {
      return directory->Resolve(name, peer);
    };
  } else {
    resolver = [unit = unit_](absl::string_view, absl::string_view) { return unit; };
  }
  protocols_ = std::make_unique<Protocols>(
      config_, queues_, std::move(resolver),
      [this](const std::string& cluster) -> std::shared_ptr<grpclb::ServiceUnit> {
        if (directory_ != nullptr) return directory_->Find(cluster);
        return unit_->key() == cluster ? unit_ : nullptr;
      },
      replica_);
  JAWLB_RETURN_IF_ERROR(h2_ != nullptr ? StartH2() : StartGrpc());
  protocols_->Start(listener_->port());
  if (unit_ != nullptr) {
    if (absl::Status started = unit_->Start(wake_runner()); !started.ok()) {
      // Nothing to drain: no client could connect yet.
      if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(Clock::Real().Now()));
      protocols_->Stop();
      server_.reset();
      return started;
    }
  }
  if (h2_ != nullptr) {
    listener_->Start(
        [server = h2_.get()](int fd, const std::string& peer) { server->Adopt(fd, peer); });
  } else {
    listener_->Start([server = server_.get()](int fd, const std::string& /*peer*/) {
      grpc::AddInsecureChannelFromFd(server, fd);
    });
  }
  serving_ = true;
  spdlog::info("listening on {}:{} ({}, {})", config_.host.empty() ? "*" : config_.host, port(),
               h2_ != nullptr ? "jawlb's HTTP/2 server" : "gRPC C++'s server",
               tls_ == nullptr  ? "plaintext"
               : tls_->mutual() ? "mutual TLS"
                                : "TLS");
  if (config_.lb_tokens) {
    spdlog::info("load_balance_tokens: {}<client>.<backend> (client 0: the list shared by all)",
                 absl::StrCat(grpclb::kTokenVersion, ".", replica_, "."));
  }
  return absl::OkStatus();
}

absl::Status App::StartH2() {
  protocols_->AddTo(*h2_);
  h2_->Register(HealthService::kCheckMethod, health_.CheckHandler());
  h2_->Register(HealthService::kWatchMethod, health_.WatchHandler());
  readiness_.AttachHealth(&health_);
  return absl::OkStatus();
}

absl::Status App::StartGrpc() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  ConfigureServer(config_, builder);
  queues_.AddTo(builder);
  protocols_->AddTo(builder);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) return absl::InternalError("the gRPC server did not start");
  queues_.Start();
  readiness_.AttachHealth(server_->GetHealthCheckService());
  return absl::OkStatus();
}

absl::Status App::StartAdmin() {
  liveness_ =
      std::make_unique<Liveness>(config_.host, port(), factory_->kubernetes(), tls_ != nullptr);
  admin::AdminView view;
  view.not_ready_reason = [this] { return readiness_.NotReadyReason(); };
  view.stuck_reason = [this] { return liveness_->StuckReason(); };
  view.write_metrics = [this](metrics::TextWriter& out) { WriteMetrics(out); };
  if (unit_ != nullptr) {
    view.hub = &unit_->hub();
    view.endpoints = &unit_->source();
    view.health = unit_->health_checks();
    view.source = factory_->description();
    view.service = factory_->service_label();
  } else {
    view.services = [this] { return grpclb::ServicesJson(directory_->Describe()); };
    view.backends_sent = [this] { return grpclb::BackendsSent(directory_->Describe()); };
    view.source = "multi: each client's name chooses a Kubernetes service";
    view.service = "(multi)";
  }
  view.kubernetes = factory_->kubernetes();
  view.replica = replica_;
  view.clients = &protocols_->grpclb_clients();
  view.xds_clients = &protocols_->xds_clients();
  view.xds_load_reporters = &protocols_->xds_load_reporters();
  absl::StatusOr<std::unique_ptr<admin::AdminServer>> admin =
      admin::AdminServer::Start(config_.admin_host, config_.admin_port, std::move(view));
  if (!admin.ok()) return admin.status();
  admin_ = *std::move(admin);
  spdlog::info("admin listening on {}:{}", config_.admin_host.empty() ? "*" : config_.admin_host,
               admin_->port());
  return absl::OkStatus();
}

void App::WriteMetrics(metrics::TextWriter& out) const {
  protocols_->WriteMetrics(out);
  listener_->WriteMetrics(out);
  if (h2_ != nullptr) h2_->WriteMetrics(out);
  if (tls_ != nullptr) tls_->WriteMetrics(out);
  if (factory_->kubernetes() != nullptr) factory_->kubernetes()->WriteMetrics(out);
  if (unit_ != nullptr) {
    unit_->hub().WriteMetrics(out);
    unit_->shedding().WriteMetrics(out);
    const health::HealthCheckedSource* checks = unit_->health_checks();
    if (checks != nullptr && checks->checker() != nullptr) checks->checker()->WriteMetrics(out);
  }
  if (directory_ != nullptr) directory_->WriteMetrics(out);
}

void App::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (serving_) {
    const absl::Time deadline = Clock::Real().Now() + config_.shutdown_grace;
    readiness_.StartDraining();
    const absl::Duration delay = std::min(config_.drain_delay, config_.shutdown_grace);
    spdlog::info("draining: not ready; serving {} streams for {} more", protocols_->streams(),
                 absl::FormatDuration(delay));
    hurry_.WaitForNotificationWithTimeout(delay);
    spdlog::info("shutting down: ending {} streams, {} left of the grace period",
                 protocols_->streams(), absl::FormatDuration(deadline - Clock::Real().Now()));
    protocols_->Drain();
    // Jawlb's HTTP/2 server also sends every client away (gRPC's two-step
    // GOAWAY: no new streams here; the open ones end as above).
    if (h2_ != nullptr) h2_->Drain();
    // The grpclb streams end as soon as their in-flight write is done. Other
    // long calls (a health Watch) never end by themselves: once the grpclb
    // streams are gone, at the deadline or when hurried, everything left is
    // cancelled.
    while (protocols_->streams() > 0 && Clock::Real().Now() < deadline &&
           !hurry_.HasBeenNotified()) {
      hurry_.WaitForNotificationWithTimeout(absl::Milliseconds(10));
    }
    listener_->Stop();
    if (server_ != nullptr) server_->Shutdown(absl::ToChronoTime(Clock::Real().Now()));
    protocols_->Stop();
  }
  if (admin_ != nullptr) admin_->Stop();
  // The units' Hubs wake through the transport's threads: they let go before
  // those stop.
  if (directory_ != nullptr) directory_->Stop();
  if (unit_ != nullptr) unit_->Stop();
  if (h2_ != nullptr) h2_->Stop();  // closes what is left, then the loops
  queues_.Stop();
  if (serving_) spdlog::info("stopped");
}

}  // namespace jawlb::app
