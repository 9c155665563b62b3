#include "discovery/k8s_source.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace jawlb::discovery {

K8sSource::K8sSource(std::unique_ptr<k8s::HttpTransport> transport, Options options)
    : transport_(std::move(transport)), options_(std::move(options)) {}

K8sSource::~K8sSource() { Stop(); }

absl::Status K8sSource::Start(OnUpdate on_update) {
  on_update_ = std::move(on_update);
  switch (options_.api) {
    case Api::kEndpointSlices:
      transport_->After(absl::ZeroDuration(), [this] { Watch(EndpointsApi::kEndpointSlices); });
      break;
    case Api::kEndpoints:
      transport_->After(absl::ZeroDuration(), [this] { Watch(EndpointsApi::kEndpoints); });
      break;
    case Api::kAuto:
      transport_->After(absl::ZeroDuration(), [this] { ChooseApi(); });
      break;
  }
  return absl::OkStatus();
}

void K8sSource::Stop() {
  // No callback runs after this, so what they made can go on this thread.
  transport_->Cancel();
  reflector_.reset();
  view_.reset();
}

std::vector<EndpointState> K8sSource::Endpoints() const {
  absl::MutexLock lock(&mu_);
  return endpoints_;
}

void K8sSource::Deliver(BackendSet set, absl::Time observed) {
  size_t objects = 0;
  {
    absl::MutexLock lock(&mu_);
    objects = objects_.value_or(0);
  }
  Update update{std::move(set), observed, absl::OkStatus()};
  if (options_.missing_is_not_found && objects == 0) {
    update.backends = BackendSet();
    update.status = absl::NotFoundError(absl::StrCat(
        "service ", options_.namespace_, "/", options_.service,
        " not found: Kubernetes has no endpoints for it (does the Service exist, with a "
        "selector?)"));
  }
  on_update_(std::move(update));
}

void K8sSource::ChooseApi() {
  if (options_.api_choice != nullptr) {
    if (const std::optional<EndpointsApi> known = options_.api_choice->Get(); known.has_value()) {
      return Watch(*known);
    }
  }
  transport_->Get("/apis/discovery.k8s.io/v1", [this](absl::StatusOr<k8s::HttpResponse> response) {
    std::optional<EndpointsApi> found;
    if (response.ok() && response->status == 200) {
      found = absl::StrContains(response->body, "\"endpointslices\"")
                  ? EndpointsApi::kEndpointSlices
                  : EndpointsApi::kEndpoints;
    } else if (response.ok() && response->status == 404) {
      spdlog::info(
          "kubernetes: the API server does not serve discovery.k8s.io/v1: watching "
          "core/v1 Endpoints");
      found = EndpointsApi::kEndpoints;
    }
    if (found.has_value()) {
      if (options_.api_choice != nullptr) options_.api_choice->Set(*found);
      return Watch(*found);
    }
    const absl::Status error =
        response.ok() ? k8s::HttpError("API discovery", *response) : response.status();
    if (!backoff_.has_value()) {
      backoff_.emplace(options_.reflector.initial_backoff, options_.reflector.max_backoff);
    }
    const absl::Duration delay = backoff_->Next();
    spdlog::warn("kubernetes: service {}/{}: {}; retrying in {}", options_.namespace_,
                 options_.service, error.ToString(), absl::FormatDuration(delay));
    if (k8s::ApiMonitor* monitor = options_.reflector.monitor; monitor != nullptr) {
      monitor->Failed("discovery", error);
    }
    stats_.Failed("discovery", error);
    transport_->After(delay, [this] { ChooseApi(); });
  });
}

void K8sSource::Watch(EndpointsApi api) {
  k8s::Reflector::Options options = options_.reflector;
  options.stats = &stats_;
  options.stop_if_first_list_empty = options_.missing_is_not_found;
  const std::string& ns = options_.namespace_;
  if (api == EndpointsApi::kEndpointSlices) {
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
               api == EndpointsApi::kEndpointSlices ? "EndpointSlices" : "Endpoints", ns,
               options_.service, options_.target_port);
  view_ = std::make_unique<ServiceView>(
      api, options_.target_port,
      [this](BackendSet set, absl::Time observed) { Deliver(std::move(set), observed); },
      [this](std::vector<EndpointState> endpoints, size_t objects) {
        absl::MutexLock lock(&mu_);
        endpoints_ = std::move(endpoints);
        objects_ = objects;
      });
  reflector_ = std::make_unique<k8s::Reflector>(*transport_, *view_, std::move(options));
  reflector_->Start();
}

}  // namespace jawlb::discovery
