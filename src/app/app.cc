#include "app/app.h"

#include <atomic>
#include <future>
#include <limits>

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/generic/generic_stub.h"
#include "spdlog/spdlog.h"

#include "common/stable_hash.h"
#include "common/status_macros.h"
#include "discovery/file_source.h"
#include "discovery/k8s_source.h"
#include "discovery/static_source.h"
#include "k8s/cluster_access.h"
#include "k8s/curl_transport.h"

namespace jawlb::app {
namespace {

// How often JAWLB_ENDPOINTSFILE is checked for changes.
constexpr absl::Duration kEndpointsFilePoll = absl::Milliseconds(250);

// The largest message a client may send (LoadBalanceRequest, health and
// reflection requests).
constexpr int kMaxRequestBytes = 64 * 1024;

// How long a client connection without any stream stays open.
constexpr absl::Duration kMaxConnectionIdle = absl::Minutes(2);

// Where a pod's service account credentials are mounted.
constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// Makes the Kubernetes source.
// How to reach the API server: the pod's service account, or the kubeconfig.
absl::StatusOr<k8s::ClusterAccess> LoadAccess(const config::Config& config) {
  return config.in_cluster_host.empty()
             ? k8s::LoadKubeconfig(config.kubeconfig, config.kube_context, &std::getenv)
             : k8s::LoadInCluster(config.in_cluster_host, config.in_cluster_port,
                                  kServiceAccountDir);
}

// A source watching config.service through the Kubernetes I/O thread `io`
// (no I/O until started), counting into `monitor` and, if set, `stats`. With
// `stop_if_not_found`, a service without endpoints objects costs one list and
// no watch (multi mode: the name came from a client).
absl::StatusOr<std::unique_ptr<discovery::Source>> MakeK8sSourceWith(
    const config::Config& config, const k8s::ClusterAccess& access, k8s::CurlIo& io,
    k8s::ApiMonitor& monitor, SourceInfo& info, k8s::WatchStats* stats = nullptr,
    std::shared_ptr<discovery::K8sSource::ApiChoice> api_choice = nullptr,
    bool stop_if_not_found = false) {
  std::unique_ptr<k8s::HttpTransport> transport = io.NewTransport();
  discovery::K8sSource::Options options;
  options.namespace_ = !config.namespace_.empty()          ? config.namespace_
                       : !access.default_namespace.empty() ? access.default_namespace
                                                           : "default";
  options.service = config.service;
  options.label_selector = config.label_selector;
  options.target_port = config.target_port;
  switch (config.api) {
    case config::Api::kEndpointSlices:
      options.api = discovery::K8sSource::Api::kEndpointSlices;
      break;
    case config::Api::kEndpoints:
      options.api = discovery::K8sSource::Api::kEndpoints;
      break;
    case config::Api::kAuto:
      options.api = discovery::K8sSource::Api::kAuto;
      break;
  }
  options.api_choice = std::move(api_choice);
  options.reflector.stall_timeout = config.watch_stall_timeout;
  options.reflector.monitor = &monitor;
  options.reflector.stats = stats;
  options.reflector.stop_if_first_list_empty = stop_if_not_found;
  info.service = absl::StrCat(options.namespace_, "/", options.service);
  info.description = absl::StrCat("Kubernetes service ", options.namespace_, "/", options.service,
                                  ", port \"", options.target_port, "\", API ",
                                  config::NameOf(config.api), ", at ", access.server);
  return std::make_unique<discovery::K8sSource>(std::move(transport), std::move(options));
}

// JAWLB_HEALTHCHECK=grpc: a checker passing the healthy backends to `publish`;
// else null. ResourceExhausted when its thread cannot start.
absl::StatusOr<std::unique_ptr<health::HealthChecker>> MakeHealthChecker(
    const config::Config& config, health::HealthChecker::Publish publish) {
  if (config.health_check != config::HealthCheck::kGrpc) return nullptr;
  health::HealthChecker::Options options;
  options.service = config.health_check_service;
  return health::HealthChecker::Start(options, std::move(publish));
}

// The one Kubernetes I/O thread, for every source of this process.
absl::StatusOr<std::unique_ptr<k8s::CurlIo>> StartKubernetesIo(const k8s::ClusterAccess& access,
                                                               k8s::ApiMonitor& monitor) {
  spdlog::info("kubernetes: API server {} ({})", access.server, access.origin);
  return k8s::CurlIo::Start(access, &monitor);
}

// Makes the source the configuration asks for; `kubernetes` and `io` are set
// when it watches Kubernetes.
absl::StatusOr<std::unique_ptr<discovery::Source>> MakeSource(
    const config::Config& config, std::unique_ptr<k8s::ApiMonitor>& kubernetes,
    std::unique_ptr<k8s::CurlIo>& io, SourceInfo& info) {
  if (config.endpoints.has_value()) {
    info = {"JAWLB_ENDPOINTS", "static"};
    return std::make_unique<discovery::StaticSource>(*config.endpoints);
  }
  if (!config.endpoints_file.empty()) {
    info = {"JAWLB_ENDPOINTSFILE " + config.endpoints_file, "file"};
    return std::make_unique<discovery::FileSource>(config.endpoints_file, kEndpointsFilePoll);
  }
  kubernetes = std::make_unique<k8s::ApiMonitor>();
  const absl::StatusOr<k8s::ClusterAccess> access = LoadAccess(config);
  if (!access.ok()) return access.status();
  absl::StatusOr<std::unique_ptr<k8s::CurlIo>> started = StartKubernetesIo(*access, *kubernetes);
  if (!started.ok()) return started.status();
  io = *std::move(started);
  return MakeK8sSourceWith(config, *access, *io, *kubernetes, info);
}

void ConfigureServer(const config::Config& config, grpc::ServerBuilder& builder) {
  // grpclb clients keep one idle stream open and ping it (grpc-go every 20 s even
  // with no call active). gRPC's default policy (5 min, 2 strikes) would end such
  // connections with too_many_pings, so pings are never held against a client.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // A connection may carry several BalanceLoad streams (a process with many
  // channels sharing one connection), but not without bound: each costs ~16 KiB.
  // Advertised in SETTINGS; the service also enforces it (StreamLimits), since
  // gRPC applies it only once a client acknowledges our SETTINGS.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(config.max_streams_per_connection));
  // What clients send is small: an initial request (a name under 256 bytes)
  // and load reports. gRPC's default would buffer 4 MiB per message.
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  // A connection with no stream serves no grpclb client (each holds one for
  // its life): closed after a while, so idle connections cannot pile up.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(kMaxConnectionIdle)));
  // Find clients that vanished without closing (node lost, network cut) so their
  // streams do not linger: ping every 30 s, give up after 10 s without an answer.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  // grpclb clients stay with the first balancer they reach: a maximum age (gRPC
  // adds ±10% jitter) makes them re-resolve and spread over replicas, new ones
  // included. Hitless: a client keeps its list while it reconnects.
  if (config.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_age)));
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_age_grace)));
  }
}

// The IP addresses (4 or 16 bytes) a client reaches jawlb's gRPC port at:
// `host`, or with every interface ("") each interface's.
absl::flat_hash_set<std::string> OwnAddresses(const std::string& host) {
  absl::flat_hash_set<std::string> own;
  if (!host.empty()) {
    if (absl::StatusOr<discovery::Backend> self = discovery::MakeBackend(host, 1); self.ok()) {
      own.insert(self->ip);
    }
    return own;
  }
  ifaddrs* interfaces = nullptr;
  if (getifaddrs(&interfaces) != 0) return own;
  for (ifaddrs* i = interfaces; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET) {
      const auto* v4 = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      own.insert(std::string(reinterpret_cast<const char*>(&v4->sin_addr), 4));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      const auto* v6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      own.insert(std::string(reinterpret_cast<const char*>(&v6->sin6_addr), 16));
    }
  }
  freeifaddrs(interfaces);
  return own;
}

// Raises the soft file descriptor limit to the hard one (often 1,024 against
// 524,288 or more), and returns `wanted` connections (0: as many as there is
// room for), or fewer if the limit leaves less room: 320 descriptors stay for
// everything else (the admin port's 64 connections, the API server, health
// checks, files).
size_t ConnectionsWithinFileLimit(size_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return wanted;
  if (limit.rlim_cur < limit.rlim_max) {
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
      spdlog::info("file descriptors: soft limit raised from {} to {}", before, limit.rlim_cur);
    } else {
      getrlimit(RLIMIT_NOFILE, &limit);
    }
  }
  // The admin port's 64 connections, and 256 for the rest.
  constexpr rlim_t kReserved = 256 + 64;
  const size_t room =
      limit.rlim_cur > 2 * kReserved ? limit.rlim_cur - kReserved : limit.rlim_cur / 3;
  if (wanted == 0) return room;
  if (wanted > room) {
    spdlog::warn(
        "JAWLB_MAXCONNECTIONS={} is more than the file limit ({}) leaves room for: "
        "at most {} connections",
        wanted, limit.rlim_cur, room);
    return room;
  }
  return wanted;
}

}  // namespace

namespace {

// 4 base-32 characters naming this process: its host name, pid and start time.
std::string MakeReplicaTag() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return grpclb::Base32(
      StableHash(absl::StrCat(host, "/", getpid(), "/", absl::ToUnixNanos(absl::Now()))), 4);
}

}  // namespace

App::App(const config::Config& config)
    : config_(config),
      replica_(MakeReplicaTag()),
      // Multi mode: every service has its own (KubernetesUnit).
      policy_(config.mode == config::Mode::kMulti ? 0 : config.max_servers),
      shedding_(config.mode == config::Mode::kMulti
                    ? 0.0
                    : static_cast<double>(config.max_rps_per_backend),
                hub_) {
  hub_.SetMaxListBytes(config.max_list_bytes);
}

App::~App() { Shutdown(); }

// Multi mode: one service's pipeline, made when its first client asks: its
// source, health checker (JAWLB_HEALTHCHECK=grpc), subset policy, shedding and
// Hub, the same parts as single mode's, one set per service.
class KubernetesUnit final : public grpclb::ServiceUnit {
 public:
  // `stats`: what `source` counts into.
  KubernetesUnit(std::string key, const config::Config& config, size_t shards,
                 std::string token_prefix, std::unique_ptr<k8s::WatchStats> stats,
                 std::unique_ptr<discovery::Source> source)
      : key_(std::move(key)),
        config_(config),
        stats_(std::move(stats)),
        hub_(shards, std::move(token_prefix)),
        policy_(config.max_servers),
        shedding_(static_cast<double>(config.max_rps_per_backend), hub_),
        source_(std::move(source)) {
    hub_.SetMaxListBytes(config.max_list_bytes);
  }
  ~KubernetesUnit() override { StopOnce(); }

  void Stop() override { StopOnce(); }

  absl::Status Start(grpclb::Hub::WakeRunner runner) {
    hub_.SetWakeRunner(std::move(runner));
    return source_->Start([this](discovery::BackendSet backends, absl::Time observed) {
      if (source_->ObjectCount() == 0) {
        // No EndpointSlice (or Endpoints object) at all: the Service does not
        // exist. Its clients are told so; the directory forgets the unit soon,
        // so a Service created later is found. The source watches no further.
        spdlog::warn("service {}: not found (no endpoints objects): its clients get NOT_FOUND",
                     key_);
        hub_.Close(absl::NotFoundError(
            absl::StrCat("service ", key_,
                         " not found: Kubernetes has no endpoints for it (does the Service "
                         "exist, with a selector?)")));
        return;
      }
      health::HealthChecker* health = HealthCheckerOnce();
      if (hub_.Current().closed) return;  // the health checker could not start
      if (health != nullptr) {
        health->SetBackends(std::move(backends), observed);
      } else {
        Publish(std::move(backends), observed);
      }
    });
  }
  grpclb::Hub& hub() override { return hub_; }
  const std::string& key() const override { return key_; }
  grpclb::SubsetPolicy* policy() override { return &policy_; }
  grpclb::LoadShedding* shedding() override { return &shedding_; }
  const k8s::WatchStats* watch_stats() const override { return stats_.get(); }
  std::optional<Health> health() const override {
    absl::MutexLock lock(&health_mu_);
    if (health_ == nullptr) return std::nullopt;
    return Health{health_->failing(), health_->panic()};
  }

 private:
  // A complete set from the source (the Kubernetes I/O thread), or its healthy
  // part from the health checker (its thread).
  void Publish(discovery::BackendSet backends, absl::Time observed) {
    const std::string change = discovery::DescribeChange(last_, backends);
    last_ = backends;
    const size_t count = backends.size();
    policy_.SetBackends(backends);  // before the Hub wakes the streams
    if (hub_.Publish(std::move(backends), observed)) {
      spdlog::info("service {} backends: {} ({} now)", key_, change, count);
    }
  }

  // JAWLB_HEALTHCHECK=grpc: the checker, started at the first list with
  // endpoints (a name that turns out not to exist costs no thread); null
  // without health checks. A thread that cannot start closes this service's
  // Hub with the reason. The source's thread only.
  health::HealthChecker* HealthCheckerOnce() {
    if (config_.health_check != config::HealthCheck::kGrpc) return nullptr;
    {
      absl::MutexLock lock(&health_mu_);
      if (health_ != nullptr) return health_.get();
    }
    absl::StatusOr<std::unique_ptr<health::HealthChecker>> made =
        MakeHealthChecker(config_, [this](discovery::BackendSet backends, absl::Time observed) {
          Publish(std::move(backends), observed);
        });
    if (!made.ok()) {
      spdlog::error("service {}: {}: its clients get the error", key_, made.status().ToString());
      hub_.Close(absl::ResourceExhaustedError(
          absl::StrCat("service ", key_, ": ", made.status().message())));
      return nullptr;
    }
    absl::MutexLock lock(&health_mu_);
    health_ = *std::move(made);
    return health_.get();
  }

  void StopOnce() {
    if (stopped_.exchange(true)) return;
    source_->Stop();  // no source callback after this: health_ is made no more
    std::unique_ptr<health::HealthChecker> health;
    {
      absl::MutexLock lock(&health_mu_);
      health = std::move(health_);
    }
    if (health != nullptr) health->Stop();
    hub_.SetWakeRunner(nullptr);  // waits for the wakes already handed out
  }

  const std::string key_;
  const config::Config& config_;                  // the App's, which outlives every unit
  const std::unique_ptr<k8s::WatchStats> stats_;  // outlives source_
  grpclb::Hub hub_;
  grpclb::SubsetPolicy policy_;
  grpclb::LoadShedding shedding_;
  mutable absl::Mutex health_mu_;
  std::unique_ptr<health::HealthChecker> health_ ABSL_GUARDED_BY(health_mu_);
  std::unique_ptr<discovery::Source> source_;
  discovery::BackendSet last_;  // Publish()'s caller's thread only
  std::atomic<bool> stopped_{false};
};

absl::StatusOr<std::unique_ptr<App>> App::Start(const config::Config& config) {
  std::unique_ptr<App> app(new App(config));
  JAWLB_RETURN_IF_ERROR(app->BindPort());
  SourceInfo info;
  JAWLB_RETURN_IF_ERROR(config.mode == config::Mode::kMulti ? app->StartDirectory(info)
                                                            : app->StartSource(info));
  JAWLB_RETURN_IF_ERROR(app->StartServer());
  JAWLB_RETURN_IF_ERROR(app->StartAdmin(info));
  return app;
}

absl::Status App::BindPort() {
  // jawlb accepts the connections itself (ConnectionListener), so that the
  // limits and running out of descriptors are its own to handle. Bound first:
  // a port in use fails before anything is watched, and the port is known
  // when the first list comes (to leave jawlb's own address out of it).
  grpclb::ConnectionListener::Options listen;
  listen.host = config_.host;
  listen.port = config_.port;
  listen.max_connections = ConnectionsWithinFileLimit(config_.max_connections);
  listen.max_per_peer = config_.max_connections_per_peer;
  absl::StatusOr<std::unique_ptr<grpclb::ConnectionListener>> listener =
      grpclb::ConnectionListener::Listen(listen);
  if (!listener.ok()) return listener.status();
  listener_ = *std::move(listener);
  port_ = listener_->port();
  own_ips_ = OwnAddresses(config_.host);
  return absl::OkStatus();
}

discovery::BackendSet App::WithoutSelf(discovery::BackendSet backends) {
  std::vector<discovery::Backend> kept;
  std::vector<std::string> left_out;
  for (const discovery::Backend& backend : backends.backends()) {
    const bool loopback = backend.ip.size() == 4 && backend.ip[0] == 127;
    if (backend.port == port_ &&
        (own_ips_.contains(backend.ip) || (loopback && config_.host.empty()))) {
      left_out.push_back(backend.ToString());
    } else {
      kept.push_back(backend);
    }
  }
  if (left_out.empty()) return backends;
  int64_t suppressed = 0;
  if (self_log_.Allow(absl::Now(), suppressed)) {
    spdlog::error(
        "backends: {} is jawlb's own gRPC address (clients would send their calls to "
        "the balancer): left out",
        absl::StrJoin(left_out, ", "));
  }
  return discovery::BackendSet(std::move(kept), backends.weights());
}

absl::Status App::StartSource(SourceInfo& info) {
  absl::StatusOr<std::unique_ptr<discovery::Source>> source =
      MakeSource(config_, kubernetes_, kube_io_, info);
  if (!source.ok()) return source.status();
  source_ = *std::move(source);
  absl::StatusOr<std::unique_ptr<health::HealthChecker>> health =
      MakeHealthChecker(config_, [this](discovery::BackendSet backends, absl::Time observed) {
        OnBackends(std::move(backends), observed);
      });
  if (!health.ok()) return health.status();
  health_ = *std::move(health);
  if (health_ != nullptr) {
    spdlog::info("health checks: grpc.health.v1.Health/Watch on every backend (service \"{}\")",
                 config_.health_check_service);
  }
  return source_->Start([this](discovery::BackendSet backends, absl::Time observed) {
    if (health_ != nullptr) {
      health_->SetBackends(std::move(backends), observed);
    } else {
      OnBackends(std::move(backends), observed);
    }
  });
}

absl::Status App::StartDirectory(SourceInfo& info) {
  kubernetes_ = std::make_unique<k8s::ApiMonitor>();
  // Read once: units are made on completion-queue threads, which do no I/O.
  absl::StatusOr<k8s::ClusterAccess> access = LoadAccess(config_);
  if (!access.ok()) return access.status();
  absl::StatusOr<std::unique_ptr<k8s::CurlIo>> io = StartKubernetesIo(*access, *kubernetes_);
  if (!io.ok()) return io.status();
  kube_io_ = *std::move(io);
  access_ = *std::move(access);
  info = {"multi: each client's name chooses a Kubernetes service", "(multi)"};
  ServiceDirectory::Options options;
  options.router.default_namespace = config_.namespace_.empty() ? "default" : config_.namespace_;
  options.router.allowed_namespaces = config_.namespaces;
  options.router.cluster_domain = config_.cluster_domain;
  options.router.name_suffix = config_.name_suffix;
  options.routes_file = config_.routes_file;
  options.idle_timeout = config_.idle_timeout;
  options.max_services = config_.max_services;
  options.max_services_per_peer = config_.max_services_per_peer;
  absl::StatusOr<std::unique_ptr<ServiceDirectory>> directory = ServiceDirectory::Start(
      std::move(options), [this](const routing::ServiceRef& service) { return MakeUnit(service); });
  if (!directory.ok()) return directory.status();
  directory_ = *std::move(directory);
  readiness_.MarkListed();  // ready once serving: lists come per service
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> App::MakeUnit(
    const routing::ServiceRef& service) {
  config::Config unit_config = config_;
  unit_config.namespace_ = service.namespace_;
  unit_config.service = service.name;
  if (!service.port.empty()) unit_config.target_port = service.port;
  SourceInfo info;
  auto stats = std::make_unique<k8s::WatchStats>();
  absl::StatusOr<std::unique_ptr<discovery::Source>> source = MakeK8sSourceWith(
      unit_config, *access_, *kube_io_, *kubernetes_, info, stats.get(), api_choice_,
      /*stop_if_not_found=*/true);
  if (!source.ok()) return source.status();
  auto unit = std::make_shared<KubernetesUnit>(
      service.Key(), config_, static_cast<size_t>(grpclb::BalanceLoadService::DefaultThreads()),
      config_.lb_tokens ? grpclb::TokenPrefix(replica_, 0) : "", std::move(stats),
      *std::move(source));
  JAWLB_RETURN_IF_ERROR(unit->Start(service_->wake_runner()));
  return unit;
}

absl::Status App::StartServer() {
  grpclb::BalanceLoadService::Options service;
  service.client_stats_interval = config_.client_stats_interval;
  service.load_smoothing = config_.load_smoothing;
  service.policy = &policy_;
  service.shedding = &shedding_;
  service.replica = config_.lb_tokens ? replica_ : "";
  service.limits.max_streams = config_.max_streams;
  service.limits.max_per_connection = config_.max_streams_per_connection;
  service.limits.max_per_peer = config_.max_streams_per_peer;
  service.first_message_timeout = config_.first_message_timeout;
  if (directory_ != nullptr) {
    service.resolver = [this](absl::string_view name, absl::string_view peer) {
      return directory_->Resolve(name, peer);
    };
  }
  service_ = std::make_unique<grpclb::BalanceLoadService>(hub_, std::move(service));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  ConfigureServer(config_, builder);
  service_->AddTo(builder);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    if (source_ != nullptr) source_->Stop();
    if (directory_ != nullptr) directory_->Stop();
    if (health_ != nullptr) health_->Stop();
    return absl::InternalError("the gRPC server did not start");
  }
  listener_->Start(server_.get());
  service_->Start(port_);
  readiness_.AttachHealth(server_->GetHealthCheckService());
  spdlog::info("listening on {}:{}", config_.host.empty() ? "*" : config_.host, port_);
  if (config_.lb_tokens) {
    spdlog::info("load_balance_tokens: {}<client>.<backend> (client 0: the list shared by all)",
                 absl::StrCat(grpclb::kTokenVersion, ".", replica_, "."));
  }
  const std::string self_host = config_.host.empty()                   ? "127.0.0.1"
                                : absl::StrContains(config_.host, ':') ? "[" + config_.host + "]"
                                                                       : config_.host;
  self_target_ = absl::StrCat(self_host, ":", port_);
  return absl::OkStatus();
}

std::string App::ServicesJson() const {
  std::vector<std::string> services;
  for (const ServiceDirectory::UnitInfo& unit : directory_->Describe()) {
    std::string json = absl::StrCat(
        "{\"service\":\"", unit.key, "\",\"streams\":", unit.streams, ",\"idle_since\":",
        unit.idle_since == absl::InfiniteFuture()
            ? "null"
            : absl::StrCat("\"", absl::FormatTime(unit.idle_since), "\""),
        ",\"drop_percent\":", unit.drop_percent);
    if (unit.health.has_value()) {
      absl::StrAppend(&json, ",\"health\":{\"failing\":", unit.health->failing,
                      ",\"panic\":", unit.health->panic ? "true" : "false", "}");
    }
    services.push_back(json + "}");
  }
  return absl::StrCat("[", absl::StrJoin(services, ","), "]");
}

absl::Status App::StartAdmin(const SourceInfo& info) {
  admin::AdminView view;
  view.not_ready_reason = [this] { return readiness_.NotReadyReason(); };
  view.stuck_reason = [this] { return StuckReason(); };
  view.write_metrics = [this](metrics::TextWriter& out) {
    hub_.WriteMetrics(out);
    service_->WriteMetrics(out);
    listener_->WriteMetrics(out);
    if (kubernetes_ != nullptr) kubernetes_->WriteMetrics(out);
    if (health_ != nullptr) health_->WriteMetrics(out);
    shedding_.WriteMetrics(out);
    if (directory_ != nullptr) directory_->WriteMetrics(out);
  };
  view.health = health_.get();
  view.endpoints = source_.get();
  if (directory_ != nullptr) {
    view.services = [this] { return ServicesJson(); };
    view.backends_sent = [this] {
      size_t sum = 0;
      for (const ServiceDirectory::UnitInfo& unit : directory_->Describe()) {
        sum += unit.backends_sent;
      }
      return sum;
    };
  }
  view.kubernetes = kubernetes_.get();
  view.source = info.description;
  view.service = info.service;
  view.replica = replica_;
  view.hub = &hub_;
  view.clients = &service_->clients();
  absl::StatusOr<std::unique_ptr<admin::AdminServer>> admin =
      admin::AdminServer::Start(config_.admin_host, config_.admin_port, std::move(view));
  if (!admin.ok()) return admin.status();
  admin_ = *std::move(admin);
  spdlog::info("admin listening on {}:{}", config_.admin_host.empty() ? "*" : config_.admin_host,
               admin_->port());
  return absl::OkStatus();
}

std::string App::StuckReason() {
  if (!GrpcServerAnswers()) return "the gRPC server does not answer its own health check in 2s";
  const absl::Time now = absl::Now();
  if (kubernetes_ != nullptr && kubernetes_->heartbeat().Stuck(now)) {
    return absl::StrCat("the Kubernetes I/O thread has shown no progress for ",
                        absl::FormatDuration(absl::Trunc(now - kubernetes_->heartbeat().last_beat(),
                                                         absl::Seconds(1))));
  }
  return "";
}

bool App::GrpcServerAnswers() {
  // HealthCheckRequest{service: "jawlb.liveness"}, sent as raw bytes: jawlb has
  // no generated health stubs of its own (gRPC serves the service).
  static const std::string kRequest = std::string("\x0a\x0e", 2) + "jawlb.liveness";
  // A connection of its own each time (not a pooled one that may have been
  // open for hours), so a port that no longer accepts fails the check.
  grpc::ChannelArguments fresh;
  fresh.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  grpc::GenericStub stub(
      grpc::CreateCustomChannel(self_target_, grpc::InsecureChannelCredentials(), fresh));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::Slice slice(kRequest);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get().ok();
}

void App::OnBackends(discovery::BackendSet backends, absl::Time observed) {
  backends = WithoutSelf(std::move(backends));
  const std::string change = discovery::DescribeChange(last_backends_, backends);
  last_backends_ = backends;
  const size_t count = backends.size();
  policy_.SetBackends(backends);  // before the Hub wakes the streams
  if (hub_.Publish(std::move(backends), observed)) {
    spdlog::info("backends: {} ({} now)", change, count);
  }
  readiness_.MarkListed();
}

void App::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (server_ != nullptr) {
    const absl::Time deadline = absl::Now() + config_.shutdown_grace;
    readiness_.StartDraining();
    const absl::Duration delay = std::min(config_.drain_delay, config_.shutdown_grace);
    spdlog::info("draining: not ready; serving {} streams for {} more", hub_.subscriber_count(),
                 absl::FormatDuration(delay));
    hurry_.WaitForNotificationWithTimeout(delay);
    spdlog::info("shutting down: ending {} streams, {} left of the grace period",
                 hub_.subscriber_count(), absl::FormatDuration(deadline - absl::Now()));
    hub_.Close();
    // The grpclb streams end as soon as their in-flight write is done. Other
    // long calls (a health Watch) never end by themselves: once the grpclb
    // streams are gone, at the deadline or when hurried, everything left is
    // cancelled.
    while (service_->clients().size() > 0 && absl::Now() < deadline && !hurry_.HasBeenNotified()) {
      hurry_.WaitForNotificationWithTimeout(absl::Milliseconds(10));
    }
    listener_->Stop();
    server_->Shutdown(absl::ToChronoTime(absl::Now()));
    // Units' Hubs wake through the service's queues: gone before those close.
    if (directory_ != nullptr) directory_->Stop();
    service_->Stop();
  }
  if (admin_ != nullptr) admin_->Stop();
  if (source_ != nullptr) source_->Stop();
  if (health_ != nullptr) health_->Stop();
  if (server_ != nullptr) spdlog::info("stopped");
}

}  // namespace jawlb::app
