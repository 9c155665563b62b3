#include "discovery/service_view.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "spdlog/spdlog.h"

namespace jawlb::discovery {

ServiceView::ServiceView(EndpointsApi api, std::string target_port, OnSet on_update,
                         OnEndpoints on_endpoints)
    : api_(api),
      target_port_(std::move(target_port)),
      on_update_(std::move(on_update)),
      on_endpoints_(std::move(on_endpoints)) {}

void ServiceView::Apply(simdjson::dom::element object) {
  absl::StatusOr<DecodedObject> decoded = DecodeEndpointsObject(api_, object, target_port_);
  if (!decoded.ok()) {
    spdlog::error("kubernetes: ignoring an update: {}", decoded.status().ToString());
    return;
  }
  Contribution& contribution = objects_[decoded->name];
  for (const std::string& warning : decoded->warnings) {
    const auto& logged = contribution.warnings;
    if (std::find(logged.begin(), logged.end(), warning) == logged.end()) {
      spdlog::warn("kubernetes: {}", warning);
    }
  }
  contribution.warnings = std::move(decoded->warnings);
  contribution.backends = std::move(decoded->backends);
  contribution.weight = decoded->weight;
  contribution.zones = std::move(decoded->zones);
  for (EndpointState& endpoint : decoded->endpoints) endpoint.object = decoded->name;
  contribution.endpoints = std::move(decoded->endpoints);
  endpoints_changed_ = true;
}

void ServiceView::Replace(const std::vector<simdjson::dom::element>& objects) {
  absl::flat_hash_map<std::string, Contribution> previous = std::move(objects_);
  objects_.clear();
  endpoints_changed_ = true;
  for (simdjson::dom::element object : objects) {
    std::string_view name;
    // Keep what was known of an object that now fails to decode.
    if (object["metadata"]["name"].get(name) == simdjson::SUCCESS) {
      if (auto it = previous.find(std::string(name)); it != previous.end()) {
        objects_.emplace(it->first, std::move(it->second));
      }
    }
    Apply(object);
  }
}

void ServiceView::Upsert(simdjson::dom::element object) { Apply(object); }

void ServiceView::Delete(simdjson::dom::element object) {
  std::string_view name;
  if (object["metadata"]["name"].get(name) != simdjson::SUCCESS) {
    spdlog::error("kubernetes: ignoring a deletion without metadata.name");
    return;
  }
  objects_.erase(std::string(name));
  endpoints_changed_ = true;
}

void ServiceView::Sync(absl::Time observed) {
  if (on_endpoints_ != nullptr && endpoints_changed_) {
    std::vector<EndpointState> endpoints;
    for (const auto& [name, contribution] : objects_) {
      endpoints.insert(endpoints.end(), contribution.endpoints.begin(),
                       contribution.endpoints.end());
    }
    std::sort(endpoints.begin(), endpoints.end(), [](const auto& a, const auto& b) {
      return std::tie(a.object, a.address) < std::tie(b.object, b.address);
    });
    on_endpoints_(std::move(endpoints), objects_.size());
  }
  endpoints_changed_ = false;
  std::vector<Backend> all;
  std::map<Backend, uint32_t> weights;   // a backend in two objects: the higher weight
  std::map<Backend, std::string> zones;  // ... and the first zone in byte order
  for (const auto& [name, contribution] : objects_) {
    all.insert(all.end(), contribution.backends.begin(), contribution.backends.end());
    for (const auto& [backend, zone] : contribution.zones) {
      auto [it, inserted] = zones.emplace(backend, zone);
      if (!inserted && zone < it->second) it->second = zone;
    }
    if (contribution.weight == 1) continue;
    for (const Backend& backend : contribution.backends) {
      uint32_t& weight = weights[backend];
      weight = std::max(weight, contribution.weight);
    }
  }
  BackendSet set(std::move(all), weights, zones);
  if (delivered_.has_value() && *delivered_ == set) return;
  delivered_ = set;
  on_update_(std::move(set), observed);
}

}  // namespace jawlb::discovery
