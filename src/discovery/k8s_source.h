// K8sSource: a Source that watches a Kubernetes Service's endpoints through the
// API server: EndpointSlices labelled kubernetes.io/service-name=<service>, or
// the legacy Endpoints object named <service>. With api = kAuto it asks the API
// server whether it serves discovery.k8s.io/v1 and uses Endpoints if not.
//
// Until the first complete list, nothing is delivered (clients get no list);
// while the API server fails, nothing is delivered (clients keep the last one).
//
// Owns its transport; has no thread of its own. API detection, the Reflector
// and the ServiceView run as callbacks on the transport's I/O thread (the one
// Kubernetes I/O thread, shared by every source), and so does OnUpdate.
// Threading: Start() and Stop() on the owner's thread, never on the I/O
// thread; Endpoints() and WatchCounts() from any thread.
#ifndef JAWLB_DISCOVERY_K8S_SOURCE_H_
#define JAWLB_DISCOVERY_K8S_SOURCE_H_

#include <memory>
#include <optional>
#include <string>

#include "discovery/endpoints_decoder.h"
#include "discovery/service_view.h"
#include "discovery/source.h"
#include "k8s/backoff.h"
#include "k8s/http_transport.h"
#include "k8s/reflector.h"

namespace jawlb::discovery {

class K8sSource final : public Source {
 public:
  enum class Api { kAuto, kEndpointSlices, kEndpoints };

  // What API discovery found, shared by the sources of one API server so it
  // is asked once, not once per service. Thread-safe.
  class ApiChoice {
   public:
    std::optional<EndpointsApi> Get() const ABSL_LOCKS_EXCLUDED(mu_) {
      absl::MutexLock lock(&mu_);
      return api_;
    }
    void Set(EndpointsApi api) ABSL_LOCKS_EXCLUDED(mu_) {
      absl::MutexLock lock(&mu_);
      api_ = api;
    }

   private:
    mutable absl::Mutex mu_;
    std::optional<EndpointsApi> api_ ABSL_GUARDED_BY(mu_);
  };

  struct Options {
    std::string namespace_;
    std::string service;
    std::string label_selector;  // added to the service-name selector
    std::string target_port;
    Api api = Api::kAuto;
    // With kAuto: where an earlier source's answer is kept (null: ask).
    std::shared_ptr<ApiChoice> api_choice;
    // A list without any endpoints object (no EndpointSlice, no Endpoints
    // object) is delivered as NotFound, and the first one ends the watch
    // (multi mode: the name came from a client, and may name nothing). Without
    // it, such a list is an empty set (the Service may be created later).
    bool missing_is_not_found = false;
    // Path, selectors and stats are filled in here.
    k8s::Reflector::Options reflector;
  };

  K8sSource(std::unique_ptr<k8s::HttpTransport> transport, Options options);
  ~K8sSource() override;

  // Source:
  absl::Status Start(OnUpdate on_update) override;
  void Stop() override;
  std::vector<EndpointState> Endpoints() const override ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<k8s::WatchStats::Counts> WatchCounts() const override { return stats_.counts(); }

 private:
  // Asks the API server whether it serves discovery.k8s.io/v1, until it says.
  void ChooseApi();
  void Watch(EndpointsApi api);

  // The view's set, said as an Update.
  void Deliver(BackendSet set, absl::Time observed) ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const std::unique_ptr<k8s::HttpTransport> transport_;
  const Options options_;
  k8s::WatchStats stats_;  // thread-safe

  // The I/O thread only, from Start() to Stop().
  OnUpdate on_update_;
  std::optional<k8s::Backoff> backoff_;  // of API detection
  std::unique_ptr<ServiceView> view_;
  std::unique_ptr<k8s::Reflector> reflector_;

  mutable absl::Mutex mu_;
  std::vector<EndpointState> endpoints_ ABSL_GUARDED_BY(mu_);
  std::optional<size_t> objects_ ABSL_GUARDED_BY(mu_);  // after the first sync
};

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_K8S_SOURCE_H_
