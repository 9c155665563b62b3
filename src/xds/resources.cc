#include "xds/resources.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <arpa/inet.h>

#include "absl/strings/str_cat.h"
#include "google/protobuf/any.pb.h"

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/http/router/v3/router.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace jawlb::xds {
namespace {

namespace cluster = envoy::config::cluster::v3;
namespace core = envoy::config::core::v3;
namespace endpoint = envoy::config::endpoint::v3;
namespace hcm = envoy::extensions::filters::network::http_connection_manager::v3;

std::string Packed(const google::protobuf::Message& message) {
  google::protobuf::Any any;
  any.PackFrom(message);
  return any.SerializeAsString();
}

// "10.0.0.1" or "2001:db8::1".
std::string IpText(const std::string& ip) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(ip.size() == 16 ? AF_INET6 : AF_INET, ip.data(), text, sizeof(text));
  return text;
}

void AddDrop(endpoint::ClusterLoadAssignment& assignment, const char* category, int percent) {
  auto* drop = assignment.mutable_policy()->add_drop_overloads();
  drop->set_category(category);
  drop->mutable_drop_percentage()->set_numerator(static_cast<uint32_t>(percent));
  drop->mutable_drop_percentage()->set_denominator(envoy::type::v3::FractionalPercent::HUNDRED);
}

}  // namespace

std::string ListenerResource(const std::string& listener, const std::string& route) {
  hcm::HttpConnectionManager manager;
  manager.set_stat_prefix("jawlb");
  manager.mutable_rds()->mutable_config_source()->mutable_ads();
  manager.mutable_rds()->mutable_config_source()->set_resource_api_version(core::V3);
  manager.mutable_rds()->set_route_config_name(route);
  hcm::HttpFilter* router = manager.add_http_filters();
  router->set_name("envoy.filters.http.router");
  router->mutable_typed_config()->PackFrom(envoy::extensions::filters::http::router::v3::Router());
  envoy::config::listener::v3::Listener resource;
  resource.set_name(listener);
  resource.mutable_api_listener()->mutable_api_listener()->PackFrom(manager);
  return Packed(resource);
}

std::string RouteResource(const std::string& route, const std::string& cluster_name) {
  envoy::config::route::v3::RouteConfiguration resource;
  resource.set_name(route);
  auto* host = resource.add_virtual_hosts();
  host->set_name(route);
  host->add_domains("*");
  auto* entry = host->add_routes();
  entry->mutable_match()->set_prefix("");
  entry->mutable_route()->set_cluster(cluster_name);
  return Packed(resource);
}

std::string ClusterResource(const std::string& cluster_name, bool load_reports) {
  cluster::Cluster resource;
  resource.set_name(cluster_name);
  resource.set_type(cluster::Cluster::EDS);
  resource.set_lb_policy(cluster::Cluster::ROUND_ROBIN);
  auto* eds = resource.mutable_eds_cluster_config();
  eds->mutable_eds_config()->mutable_ads();
  eds->mutable_eds_config()->set_resource_api_version(core::V3);
  eds->set_service_name(cluster_name);
  if (load_reports) resource.mutable_lrs_server()->mutable_self();
  return Packed(resource);
}

std::string AssignmentResource(const std::string& cluster_name,
                               const discovery::BackendSet& backends, int drop_percent) {
  endpoint::ClusterLoadAssignment resource;
  resource.set_cluster_name(cluster_name);
  // One locality per zone and weight (by zone, then weight; in the set's
  // order within).
  std::map<std::pair<std::string, uint32_t>, std::vector<const discovery::Backend*>> groups;
  std::set<uint32_t> weights;
  for (const discovery::Backend& backend : backends.backends()) {
    const uint32_t weight = backends.WeightOf(backend);
    weights.insert(weight);
    groups[{backends.ZoneOf(backend), weight}].push_back(&backend);
  }
  for (const auto& [group, members] : groups) {
    const auto& [zone, weight] = group;
    auto* locality = resource.add_endpoints();
    locality->mutable_locality()->set_zone(zone);  // present, even when empty: clients require it
    if (weights.size() > 1) {                      // distinct names: clients key localities by them
      locality->mutable_locality()->set_sub_zone(absl::StrCat("weight-", weight));
    }
    locality->mutable_load_balancing_weight()->set_value(weight *
                                                         static_cast<uint32_t>(members.size()));
    for (const discovery::Backend* backend : members) {
      auto* address = locality->add_lb_endpoints()
                          ->mutable_endpoint()
                          ->mutable_address()
                          ->mutable_socket_address();
      address->set_address(IpText(backend->ip));
      address->set_port_value(backend->port);
    }
  }
  if (backends.empty()) {
    AddDrop(resource, kNoBackendsCategory, 100);
  } else if (drop_percent > 0) {
    AddDrop(resource, kOverloadCategory, drop_percent);
  }
  return Packed(resource);
}

std::string RefusalResource(const std::string& cluster_name, const std::string& reason) {
  endpoint::ClusterLoadAssignment resource;
  resource.set_cluster_name(cluster_name);
  AddDrop(resource, reason.c_str(), 100);
  return Packed(resource);
}

}  // namespace jawlb::xds
