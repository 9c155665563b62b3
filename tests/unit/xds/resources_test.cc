// The xDS resources jawlb sends, decoded back: what real clients require of
// them (../XDS.md's rules, re-checked against real clients in the
// integration tests).
#include "xds/resources.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/any.pb.h"
#include "gtest/gtest.h"

#include "envoy/config/cluster/v3/cluster.pb.h"
#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/config/route/v3/route.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace jawlb::xds {
namespace {

namespace endpoint = envoy::config::endpoint::v3;

template <typename T>
T Unpack(const std::string& bytes, const char* type_url) {
  google::protobuf::Any any;
  EXPECT_TRUE(any.ParseFromString(bytes));
  EXPECT_EQ(any.type_url(), type_url);
  T message;
  EXPECT_TRUE(any.UnpackTo(&message));
  return message;
}

discovery::BackendSet Set(const std::string& list) { return *discovery::ParseBackendList(list); }

TEST(ResourcesTest, TheListenerRoutesThroughRdsOverAdsWithTheRouterLast) {
  const auto listener = Unpack<envoy::config::listener::v3::Listener>(
      ListenerResource("echo.prod:50051", "prod/echo"), kListenerType);
  EXPECT_EQ(listener.name(), "echo.prod:50051");
  envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager manager;
  ASSERT_TRUE(listener.api_listener().api_listener().UnpackTo(&manager));
  EXPECT_TRUE(manager.rds().config_source().has_ads());
  EXPECT_EQ(manager.rds().route_config_name(), "prod/echo");
  ASSERT_GE(manager.http_filters_size(), 1);
  EXPECT_EQ(manager.http_filters(manager.http_filters_size() - 1).typed_config().type_url(),
            "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
}

TEST(ResourcesTest, RouteAndClusterNameTheService) {
  const auto route = Unpack<envoy::config::route::v3::RouteConfiguration>(
      RouteResource("prod/echo", "prod/echo"), kRouteType);
  ASSERT_EQ(route.virtual_hosts_size(), 1);
  EXPECT_EQ(route.virtual_hosts(0).domains(0), "*");
  EXPECT_EQ(route.virtual_hosts(0).routes(0).match().prefix(), "");
  EXPECT_EQ(route.virtual_hosts(0).routes(0).route().cluster(), "prod/echo");

  const auto cluster =
      Unpack<envoy::config::cluster::v3::Cluster>(ClusterResource("prod/echo", true), kClusterType);
  EXPECT_EQ(cluster.type(), envoy::config::cluster::v3::Cluster::EDS);
  EXPECT_EQ(cluster.lb_policy(), envoy::config::cluster::v3::Cluster::ROUND_ROBIN);
  EXPECT_TRUE(cluster.eds_cluster_config().eds_config().has_ads());
  EXPECT_EQ(cluster.eds_cluster_config().service_name(), "prod/echo");
  EXPECT_TRUE(cluster.lrs_server().has_self());
  EXPECT_FALSE(
      Unpack<envoy::config::cluster::v3::Cluster>(ClusterResource("c", false), kClusterType)
          .has_lrs_server());
}

TEST(ResourcesTest, EveryLocalityIsPresentAndWeightedAndNoAddressRepeats) {
  const auto assignment = Unpack<endpoint::ClusterLoadAssignment>(
      AssignmentResource("prod/echo", Set("10.0.0.1:80,10.0.0.2:80,[2001:db8::1]:81"), 0),
      kEndpointsType);
  EXPECT_EQ(assignment.cluster_name(), "prod/echo");
  ASSERT_EQ(assignment.endpoints_size(), 1);
  const auto& locality = assignment.endpoints(0);
  EXPECT_TRUE(locality.has_locality());
  EXPECT_EQ(locality.load_balancing_weight().value(), 3u);
  std::vector<std::string> addresses;
  for (const auto& lb : locality.lb_endpoints()) {
    const auto& socket = lb.endpoint().address().socket_address();
    addresses.push_back(absl::StrCat(socket.address(), " ", socket.port_value()));
    EXPECT_EQ(lb.health_status(), envoy::config::core::v3::UNKNOWN);
  }
  EXPECT_EQ(addresses, (std::vector<std::string>{"10.0.0.1 80", "10.0.0.2 80", "2001:db8::1 81"}));
  EXPECT_FALSE(assignment.has_policy());
}

TEST(ResourcesTest, WeightsBecomeLocalitiesWeightedByWeightTimesBackends) {
  // Two backends of weight 3, one of weight 1: each heavy one gets 3 times
  // the light one's share (6/7 split over two, against 1/7).
  const discovery::BackendSet plain = Set("10.0.0.1:80,10.0.0.2:80,10.0.0.3:80");
  const discovery::BackendSet weighted(plain.backends(),
                                       {{plain.backends()[0], 3}, {plain.backends()[1], 3}});
  const auto assignment =
      Unpack<endpoint::ClusterLoadAssignment>(AssignmentResource("s", weighted, 0), kEndpointsType);
  ASSERT_EQ(assignment.endpoints_size(), 2);
  EXPECT_EQ(assignment.endpoints(0).load_balancing_weight().value(), 1u);
  EXPECT_EQ(assignment.endpoints(0).lb_endpoints_size(), 1);
  EXPECT_EQ(assignment.endpoints(1).load_balancing_weight().value(), 6u);
  EXPECT_EQ(assignment.endpoints(1).lb_endpoints_size(), 2);
  // Distinct localities: clients key them by name.
  EXPECT_NE(assignment.endpoints(0).locality().sub_zone(),
            assignment.endpoints(1).locality().sub_zone());
}

TEST(ResourcesTest, ZonesNameTheLocalities) {
  // Two zones, and in one of them two weights: three localities, each named
  // by its zone (and weight), each weighted by weight × backends.
  const std::vector<discovery::Backend> b =
      Set("10.0.0.1:80,10.0.0.2:80,10.0.0.3:80,10.0.0.4:80").backends();
  const discovery::BackendSet set(b, {{b[3], 2}},
                                  {{b[0], "zone-a"}, {b[1], "zone-b"}, {b[2], "zone-b"}});
  const auto assignment =
      Unpack<endpoint::ClusterLoadAssignment>(AssignmentResource("s", set, 0), kEndpointsType);
  std::vector<std::string> localities;
  for (const auto& locality : assignment.endpoints()) {
    localities.push_back(
        absl::StrCat(locality.locality().zone(), "/", locality.locality().sub_zone(), " ",
                     locality.load_balancing_weight().value(), " ", locality.lb_endpoints_size()));
  }
  EXPECT_EQ(localities, (std::vector<std::string>{"/weight-2 2 1", "zone-a/weight-1 1 1",
                                                  "zone-b/weight-1 2 2"}));
  // One weight: the zone alone names a locality.
  const auto plain = Unpack<endpoint::ClusterLoadAssignment>(
      AssignmentResource("s", discovery::BackendSet(b, {}, {{b[0], "zone-a"}}), 0), kEndpointsType);
  ASSERT_EQ(plain.endpoints_size(), 2);
  EXPECT_EQ(plain.endpoints(0).locality().zone(), "");
  EXPECT_EQ(plain.endpoints(0).locality().sub_zone(), "");
  EXPECT_EQ(plain.endpoints(1).locality().zone(), "zone-a");
  EXPECT_EQ(plain.endpoints(1).load_balancing_weight().value(), 1u);
}

TEST(ResourcesTest, SheddingAndNoBackendsAreDropsWithACategory) {
  const auto shed = Unpack<endpoint::ClusterLoadAssignment>(
      AssignmentResource("s", Set("10.0.0.1:80"), 30), kEndpointsType);
  ASSERT_EQ(shed.policy().drop_overloads_size(), 1);
  EXPECT_EQ(shed.policy().drop_overloads(0).category(), kOverloadCategory);
  EXPECT_EQ(shed.policy().drop_overloads(0).drop_percentage().numerator(), 30u);
  EXPECT_EQ(shed.policy().drop_overloads(0).drop_percentage().denominator(),
            envoy::type::v3::FractionalPercent::HUNDRED);

  const auto none = Unpack<endpoint::ClusterLoadAssignment>(
      AssignmentResource("s", discovery::BackendSet(), 0), kEndpointsType);
  EXPECT_EQ(none.endpoints_size(), 0);
  ASSERT_EQ(none.policy().drop_overloads_size(), 1);
  EXPECT_EQ(none.policy().drop_overloads(0).category(), kNoBackendsCategory);
  EXPECT_EQ(none.policy().drop_overloads(0).drop_percentage().numerator(), 100u);
}

}  // namespace
}  // namespace jawlb::xds
