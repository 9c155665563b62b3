// K8sSource: a Source that watches a Kubernetes Service's endpoints through the
// API server: EndpointSlices labelled kubernetes.io/service-name=<service>, or
// the legacy Endpoints object named <service>. With api = kAuto it asks the API
// server whether it serves discovery.k8s.io/v1 and uses Endpoints if not.
//
// Until the first complete list, nothing is delivered (clients get no list);
// while the API server fails, nothing is delivered (clients keep the last one).
//
// Owns its transport and the Kubernetes I/O thread, which runs API detection,
// the Reflector and the ServiceView; OnUpdate runs on that thread.
// Threading: Start() and Stop() on the main thread.
#ifndef JAWLB_DISCOVERY_K8S_SOURCE_H_
#define JAWLB_DISCOVERY_K8S_SOURCE_H_

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "discovery/endpoints_decoder.h"
#include "discovery/source.h"
#include "k8s/http_transport.h"
#include "k8s/reflector.h"

namespace jawlb::discovery {

class K8sSource final : public Source {
 public:
  enum class Api { kAuto, kEndpointSlices, kEndpoints };

  struct Options {
    std::string namespace_;
    std::string service;
    std::string label_selector;  // added to the service-name selector
    std::string target_port;
    Api api = Api::kAuto;
    k8s::Reflector::Options reflector;  // path and selectors are filled in here
  };

  K8sSource(std::unique_ptr<k8s::HttpTransport> transport, Options options);
  ~K8sSource() override;

  // Source:
  absl::Status Start(OnUpdate on_update) override;
  void Stop() override;
  std::vector<EndpointState> Endpoints() const override ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<size_t> ObjectCount() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Run(OnUpdate on_update);
  // Which API to watch; nullopt when stopping.
  std::optional<EndpointsApi> ChooseApi();

  // Constant after construction.
  const std::unique_ptr<k8s::HttpTransport> transport_;
  const Options options_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  k8s::Reflector* reflector_ ABSL_GUARDED_BY(mu_) = nullptr;  // while Run() runs one
  std::vector<EndpointState> endpoints_ ABSL_GUARDED_BY(mu_);
  std::optional<size_t> objects_ ABSL_GUARDED_BY(mu_);  // after the first sync
  std::thread thread_;
};

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_K8S_SOURCE_H_
