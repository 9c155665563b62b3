// ServiceView: the backends of one Kubernetes Service as its endpoint objects
// (EndpointSlices or Endpoints) say, kept by a Reflector. Each object's
// contribution is decoded when it changes; on Sync() the union becomes a
// BackendSet (sorted, an ip:port from two slices counted once) and goes to
// OnUpdate if it differs from the last one delivered.
//
// An object that cannot be decoded is logged and keeps its previous
// contribution: a bad update never drops backends that were known.
//
// Threading: confined to the Reflector's thread (the Kubernetes I/O thread).
#ifndef JAWLB_DISCOVERY_SERVICE_VIEW_H_
#define JAWLB_DISCOVERY_SERVICE_VIEW_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

#include "discovery/endpoints_decoder.h"
#include "discovery/source.h"
#include "k8s/object_store.h"

namespace jawlb::discovery {

class ServiceView final : public k8s::ObjectStore {
 public:
  // Receives every endpoint (used or not) after each Sync() that changed them,
  // and how many objects (EndpointSlices, or the Endpoints object) there are.
  using OnEndpoints = std::function<void(std::vector<EndpointState>, size_t objects)>;

  // Receives each changed set and when the change was seen.
  using OnSet = std::function<void(BackendSet, absl::Time observed)>;

  ServiceView(EndpointsApi api, std::string target_port, OnSet on_update,
              OnEndpoints on_endpoints = nullptr);

  // k8s::ObjectStore:
  void Replace(const std::vector<simdjson::dom::element>& objects) override;
  void Upsert(simdjson::dom::element object) override;
  void Delete(simdjson::dom::element object) override;
  void Sync(absl::Time observed) override;

 private:
  struct Contribution {
    std::vector<Backend> backends;
    uint32_t weight = 1;  // of each of its backends
    std::map<Backend, std::string> zones;
    std::vector<EndpointState> endpoints;
    std::vector<std::string> warnings;  // as last logged
  };
  void Apply(simdjson::dom::element object);

  // Constant after construction.
  const EndpointsApi api_;
  const std::string target_port_;
  const OnSet on_update_;
  const OnEndpoints on_endpoints_;

  absl::flat_hash_map<std::string, Contribution> objects_;
  std::optional<BackendSet> delivered_;
  bool endpoints_changed_ = true;  // since the last OnEndpoints
};

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_SERVICE_VIEW_H_
