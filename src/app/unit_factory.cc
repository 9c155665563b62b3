#include "app/unit_factory.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "discovery/file_source.h"
#include "discovery/static_source.h"
#include "grpclb/server_list.h"
#include "health/health_checked_source.h"

namespace jawlb::app {
namespace {

// How often JAWLB_ENDPOINTSFILE is checked for changes.
constexpr absl::Duration kEndpointsFilePoll = absl::Milliseconds(250);

// Where a pod's service account credentials are mounted.
constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

// How to reach the API server: the pod's service account, or the kubeconfig.
absl::StatusOr<k8s::ClusterAccess> LoadAccess(const config::Config& config) {
  return config.in_cluster_host.empty()
             ? k8s::LoadKubeconfig(config.kubeconfig, config.kube_context, &std::getenv)
             : k8s::LoadInCluster(config.in_cluster_host, config.in_cluster_port,
                                  kServiceAccountDir);
}

discovery::K8sSource::Api ApiOf(config::Api api) {
  switch (api) {
    case config::Api::kEndpointSlices:
      return discovery::K8sSource::Api::kEndpointSlices;
    case config::Api::kEndpoints:
      return discovery::K8sSource::Api::kEndpoints;
    case config::Api::kAuto:
      break;
  }
  return discovery::K8sSource::Api::kAuto;
}

}  // namespace

UnitFactory::UnitFactory(const config::Config& config, size_t shards, std::string replica,
                         discovery::OwnAddressFilter own)
    : config_(config), shards_(shards), replica_(std::move(replica)), own_(std::move(own)) {}

absl::StatusOr<std::unique_ptr<UnitFactory>> UnitFactory::Create(const config::Config& config,
                                                                 size_t shards, std::string replica,
                                                                 discovery::OwnAddressFilter own) {
  std::unique_ptr<UnitFactory> factory(
      new UnitFactory(config, shards, std::move(replica), std::move(own)));
  if (config.health_check == config::HealthCheck::kGrpc) {
    spdlog::info("health checks: grpc.health.v1.Health/Watch on every backend (service \"{}\")",
                 config.health_check_service);
  }
  if (config.mode != config::Mode::kMulti &&
      (config.endpoints.has_value() || !config.endpoints_file.empty())) {
    return factory;
  }
  // Read once: multi mode's units are made on completion-queue threads, which
  // do no I/O.
  absl::StatusOr<k8s::ClusterAccess> access = LoadAccess(config);
  if (!access.ok()) return access.status();
  factory->kubernetes_ = std::make_unique<k8s::ApiMonitor>();
  spdlog::info("kubernetes: API server {} ({})", access->server, access->origin);
  absl::StatusOr<std::unique_ptr<k8s::CurlIo>> io =
      k8s::CurlIo::Start(*access, factory->kubernetes_.get());
  if (!io.ok()) return io.status();
  factory->kube_io_ = *std::move(io);
  factory->access_ = *std::move(access);
  return factory;
}

absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> UnitFactory::MakeConfigured(
    std::function<void()> on_first_list) {
  if (config_.endpoints.has_value()) {
    description_ = "JAWLB_ENDPOINTS";
    service_label_ = "static";
    return MakeUnit("static", std::make_unique<discovery::StaticSource>(*config_.endpoints),
                    std::move(on_first_list));
  }
  if (!config_.endpoints_file.empty()) {
    description_ = "JAWLB_ENDPOINTSFILE " + config_.endpoints_file;
    service_label_ = "file";
    return MakeUnit(
        "file", std::make_unique<discovery::FileSource>(config_.endpoints_file, kEndpointsFilePoll),
        std::move(on_first_list));
  }
  const std::string namespace_ = !config_.namespace_.empty()           ? config_.namespace_
                                 : !access_->default_namespace.empty() ? access_->default_namespace
                                                                       : "default";
  service_label_ = absl::StrCat(namespace_, "/", config_.service);
  description_ =
      absl::StrCat("Kubernetes service ", service_label_, ", port \"", config_.target_port,
                   "\", API ", config::NameOf(config_.api), ", at ", access_->server);
  return MakeUnit(service_label_,
                  KubernetesSource(namespace_, config_.service, config_.target_port,
                                   /*missing_is_not_found=*/false),
                  std::move(on_first_list));
}

absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> UnitFactory::MakeNamed(
    const routing::ServiceRef& service) {
  if (kube_io_ == nullptr) return absl::FailedPreconditionError("not watching Kubernetes");
  return MakeUnit(service.Key(),
                  KubernetesSource(service.namespace_, service.name,
                                   service.port.empty() ? config_.target_port : service.port,
                                   /*missing_is_not_found=*/true));
}

std::unique_ptr<discovery::Source> UnitFactory::KubernetesSource(const std::string& namespace_,
                                                                 const std::string& service,
                                                                 const std::string& port,
                                                                 bool missing_is_not_found) {
  discovery::K8sSource::Options options;
  options.namespace_ = namespace_;
  options.service = service;
  options.label_selector = config_.label_selector;
  options.target_port = port;
  options.api = ApiOf(config_.api);
  options.api_choice = api_choice_;
  options.missing_is_not_found = missing_is_not_found;
  options.reflector.stall_timeout = config_.watch_stall_timeout;
  options.reflector.monitor = kubernetes_.get();
  return std::make_unique<discovery::K8sSource>(kube_io_->NewTransport(), std::move(options));
}

std::shared_ptr<grpclb::ServiceUnit> UnitFactory::MakeUnit(
    std::string key, std::unique_ptr<discovery::Source> source,
    std::function<void()> on_first_list) {
  grpclb::ServiceUnit::Options options;
  options.key = std::move(key);
  options.max_servers = config_.max_servers;
  options.max_rps_per_backend = static_cast<double>(config_.max_rps_per_backend);
  options.max_list_bytes = config_.max_list_bytes;
  options.token_prefix = config_.lb_tokens ? grpclb::TokenPrefix(replica_, 0) : "";
  options.shards = shards_;
  options.filter = own_;
  options.on_first_list = std::move(on_first_list);
  if (config_.health_check == config::HealthCheck::kGrpc) {
    health::HealthChecker::Options checks;
    checks.service = config_.health_check_service;
    auto checked = std::make_unique<health::HealthCheckedSource>(std::move(source), checks);
    options.health = checked.get();
    source = std::move(checked);
  }
  return std::make_shared<grpclb::ServiceUnit>(std::move(options), std::move(source));
}

}  // namespace jawlb::app
