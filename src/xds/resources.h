// The xDS resources of one service, for proxyless gRPC clients, as serialized
// google.protobuf.Any messages (encoded once, shared by every stream):
//   Listener <the name the client dialed>: an api_listener HttpConnectionManager
//     with RDS over ADS and the router filter (C-core refuses one without it;
//     grpc-go refuses an inline route configuration);
//   RouteConfiguration <service>: one virtual host, domains "*", prefix "" to
//     the cluster;
//   Cluster <service>: EDS over ADS, ROUND_ROBIN, with `lrs_server: self` when
//     clients should send load reports;
//   ClusterLoadAssignment <service>: the backends.
// Backends become localities by zone and weight (gRPC clients refuse
// duplicate addresses and ignore endpoint weights under ROUND_ROBIN, but weigh
// localities): one locality per zone (an EndpointSlice endpoint's `zone`) and
// weight, weighted by weight × backends, named by its zone and, when weights
// differ, sub_zone "weight-<w>". Load
// shedding is a drop_overloads entry; no backends at all is a 100% drop whose
// category says so, so RPCs fail at once saying why.
//
// Threading: pure functions.
#ifndef JAWLB_XDS_RESOURCES_H_
#define JAWLB_XDS_RESOURCES_H_

#include <string>

#include "discovery/backend_set.h"

namespace jawlb::xds {

inline constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
inline constexpr char kRouteType[] = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
inline constexpr char kClusterType[] = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
inline constexpr char kEndpointsType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

// The drop categories clients name in their errors and load reports.
inline constexpr char kOverloadCategory[] = "jawlb-overload";
inline constexpr char kNoBackendsCategory[] = "jawlb-no-backends";

// Each returns a serialized google.protobuf.Any holding the resource.
std::string ListenerResource(const std::string& listener, const std::string& route);
std::string RouteResource(const std::string& route, const std::string& cluster);
std::string ClusterResource(const std::string& cluster, bool load_reports);
std::string AssignmentResource(const std::string& cluster, const discovery::BackendSet& backends,
                               int drop_percent);
// An assignment that drops every call with `reason` as its category: a
// refused name or a missing service, said to the client at once.
std::string RefusalResource(const std::string& cluster, const std::string& reason);

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_RESOURCES_H_
