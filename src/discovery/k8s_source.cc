#include "discovery/k8s_source.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "discovery/service_view.h"
#include "k8s/backoff.h"

namespace jawlb::discovery {

K8sSource::K8sSource(std::unique_ptr<k8s::HttpTransport> transport, Options options)
    : transport_(std::move(transport)), options_(std::move(options)) {}

K8sSource::~K8sSource() { Stop(); }

absl::Status K8sSource::Start(OnUpdate on_update) {
  thread_ = std::thread([this, on_update = std::move(on_update)] { Run(on_update); });
  return absl::OkStatus();
}

void K8sSource::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (reflector_ != nullptr) reflector_->Stop();
  }
  transport_->Cancel();
  if (thread_.joinable()) thread_.join();
}

std::vector<EndpointState> K8sSource::Endpoints() const {
  absl::MutexLock lock(&mu_);
  return endpoints_;
}

std::optional<size_t> K8sSource::ObjectCount() const {
  absl::MutexLock lock(&mu_);
  return objects_;
}

std::optional<EndpointsApi> K8sSource::ChooseApi() {
  if (options_.api == Api::kEndpointSlices) return EndpointsApi::kEndpointSlices;
  if (options_.api == Api::kEndpoints) return EndpointsApi::kEndpoints;
  k8s::Backoff backoff(options_.reflector.initial_backoff, options_.reflector.max_backoff);
  while (true) {
    absl::StatusOr<k8s::HttpResponse> response = transport_->Get("/apis/discovery.k8s.io/v1");
    if (response.ok() && response->status == 200) {
      if (absl::StrContains(response->body, "\"endpointslices\"")) {
        return EndpointsApi::kEndpointSlices;
      }
      return EndpointsApi::kEndpoints;
    }
    if (response.ok() && response->status == 404) {
      spdlog::info(
          "kubernetes: the API server does not serve discovery.k8s.io/v1: watching "
          "core/v1 Endpoints");
      return EndpointsApi::kEndpoints;
    }
    const absl::Status error =
        response.ok() ? k8s::HttpError("API discovery", *response) : response.status();
    const absl::Duration delay = backoff.Next();
    spdlog::warn("kubernetes: {}; retrying in {}", error.ToString(), absl::FormatDuration(delay));
    if (k8s::ApiMonitor* monitor = options_.reflector.monitor; monitor != nullptr) {
      monitor->Failed("discovery", error);
      monitor->heartbeat().ExpectSilence(delay);
    }
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay)) return std::nullopt;
  }
}

void K8sSource::Run(OnUpdate on_update) {
  const std::optional<EndpointsApi> api = ChooseApi();
  if (!api.has_value()) return;
  k8s::Reflector::Options options = options_.reflector;
  const std::string& ns = options_.namespace_;
  if (*api == EndpointsApi::kEndpointSlices) {
    options.path = absl::StrCat("/apis/discovery.k8s.io/v1/namespaces/", ns, "/endpointslices");
    options.label_selector = absl::StrCat("kubernetes.io/service-name=", options_.service);
    if (!options_.label_selector.empty()) {
      absl::StrAppend(&options.label_selector, ",", options_.label_selector);
    }
  } else {
    options.path = absl::StrCat("/api/v1/namespaces/", ns, "/endpoints");
    options.field_selector = absl::StrCat("metadata.name=", options_.service);
    options.label_selector = options_.label_selector;
  }
  spdlog::info("kubernetes: watching {} of service {}/{} (port \"{}\")",
               *api == EndpointsApi::kEndpointSlices ? "EndpointSlices" : "Endpoints", ns,
               options_.service, options_.target_port);
  ServiceView view(*api, options_.target_port, std::move(on_update),
                   [this](std::vector<EndpointState> endpoints, size_t objects) {
                     absl::MutexLock lock(&mu_);
                     endpoints_ = std::move(endpoints);
                     objects_ = objects;
                   });
  k8s::Reflector reflector(*transport_, view, std::move(options));
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    reflector_ = &reflector;
  }
  reflector.Run();
  absl::MutexLock lock(&mu_);
  reflector_ = nullptr;
}

}  // namespace jawlb::discovery
