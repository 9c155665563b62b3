// UnitFactory: makes service units as the configuration says. The one place
// that turns the configuration into a unit: its source (JAWLB_ENDPOINTS,
// JAWLB_ENDPOINTSFILE, or a Kubernetes service watched through the one
// Kubernetes I/O thread), health checks around it (JAWLB_HEALTHCHECK=grpc),
// and its policy, shedding and Hub (JAWLB_MAXSERVERS, JAWLB_MAXRPSPERBACKEND,
// JAWLB_MAXLISTBYTES, JAWLB_LBTOKENS). Units are made not started.
//
// Owns the Kubernetes I/O thread and its monitor, which outlive every unit
// made: destroy the factory after them.
// Threading: Create() on the main thread; Make*() thread-safe (MakeNamed()
// runs on the transport's threads: no I/O, no thread started).
#ifndef JAWLB_APP_UNIT_FACTORY_H_
#define JAWLB_APP_UNIT_FACTORY_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

#include "config/config.h"
#include "discovery/k8s_source.h"
#include "discovery/own_address_filter.h"
#include "grpclb/service_unit.h"
#include "k8s/api_monitor.h"
#include "k8s/cluster_access.h"
#include "k8s/curl_transport.h"
#include "routing/service_router.h"

namespace jawlb::app {

class UnitFactory {
 public:
  // `shards`: each Hub's (one per completion queue); `replica`: this process
  // in load_balance_tokens; `own`: jawlb's gRPC address, left out of lists.
  // Starts the Kubernetes I/O thread when a Kubernetes service is watched.
  // Errors: no usable credentials, a bad API server URL.
  static absl::StatusOr<std::unique_ptr<UnitFactory>> Create(const config::Config& config,
                                                             size_t shards, std::string replica,
                                                             discovery::OwnAddressFilter own);

  // Single mode: the unit of the configured source; `on_first_list` is
  // called once its first complete list is out (readiness).
  absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> MakeConfigured(
      std::function<void()> on_first_list);
  // Multi mode: the unit of a Kubernetes service a client named. A Service
  // with no endpoints objects is reported NotFound by its source.
  absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> MakeNamed(
      const routing::ServiceRef& service);

  // Single mode, after MakeConfigured(): what the backends come from, for
  // people; and the `service` metric label ("namespace/name", "static",
  // "file").
  const std::string& description() const { return description_; }
  const std::string& service_label() const { return service_label_; }
  // The API server's health and counts; null unless watching Kubernetes.
  const k8s::ApiMonitor* kubernetes() const { return kubernetes_.get(); }

 private:
  UnitFactory(const config::Config& config, size_t shards, std::string replica,
              discovery::OwnAddressFilter own);
  // A source watching `service` (port: "" for the configured one).
  std::unique_ptr<discovery::Source> KubernetesSource(const std::string& namespace_,
                                                      const std::string& service,
                                                      const std::string& port,
                                                      bool missing_is_not_found);
  // The unit of `source` as `key`, health-checked if configured.
  std::shared_ptr<grpclb::ServiceUnit> MakeUnit(std::string key,
                                                std::unique_ptr<discovery::Source> source,
                                                std::function<void()> on_first_list = nullptr);

  // Constant after Create().
  const config::Config& config_;  // the App's, which outlives the factory
  const size_t shards_;
  const std::string replica_;
  const discovery::OwnAddressFilter own_;
  std::string description_;                   // set by MakeConfigured()
  std::string service_label_;                 // set by MakeConfigured()
  std::optional<k8s::ClusterAccess> access_;  // when watching Kubernetes
  // What API discovery found, asked by the first service only.
  const std::shared_ptr<discovery::K8sSource::ApiChoice> api_choice_ =
      std::make_shared<discovery::K8sSource::ApiChoice>();
  std::unique_ptr<k8s::ApiMonitor> kubernetes_;  // outlives kube_io_
  std::unique_ptr<k8s::CurlIo> kube_io_;         // outlives every source
};

}  // namespace jawlb::app

#endif  // JAWLB_APP_UNIT_FACTORY_H_
