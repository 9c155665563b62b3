#include "routing/service_router.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"

namespace jawlb::routing {
namespace {

using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

ServiceRouter Router(RouterOptions options = {}) {
  options.default_namespace = "prod";
  if (options.allowed_namespaces.empty()) options.allowed_namespaces = {"prod", "shop"};
  return ServiceRouter(std::move(options));
}

std::string Key(const absl::StatusOr<ServiceRef>& routed) {
  return routed.ok() ? routed->Key() : routed.status().ToString();
}

TEST(ServiceRouterTest, EveryDnsFormOfAServiceName) {
  const ServiceRouter router = Router();
  EXPECT_EQ(Key(router.Route("checkout")), "prod/checkout");
  EXPECT_EQ(Key(router.Route("checkout:50051")), "prod/checkout");
  EXPECT_EQ(Key(router.Route("checkout.shop")), "shop/checkout");
  EXPECT_EQ(Key(router.Route("checkout.shop:8000")), "shop/checkout");
  EXPECT_EQ(Key(router.Route("checkout.shop.svc")), "shop/checkout");
  EXPECT_EQ(Key(router.Route("checkout.shop.svc.cluster.local")), "shop/checkout");
  EXPECT_EQ(Key(router.Route("checkout.shop.svc.cluster.local.:443")), "shop/checkout");
  EXPECT_EQ(Key(router.Route("Checkout.SHOP.svc.Cluster.Local")), "shop/checkout");
  const absl::StatusOr<ServiceRef> routed = router.Route("checkout.shop:8000");
  ASSERT_THAT(routed, IsOk());
  EXPECT_EQ(routed->port, "");  // the default port name
}

TEST(ServiceRouterTest, AnotherClusterDomain) {
  RouterOptions options;
  options.cluster_domain = "corp.internal";
  const ServiceRouter router = Router(options);
  EXPECT_EQ(Key(router.Route("checkout.shop.svc.corp.internal")), "shop/checkout");
  EXPECT_THAT(router.Route("checkout.shop.svc.cluster.local"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("svc.namespace.svc.corp.internal")));
}

TEST(ServiceRouterTest, TheBalancerSuffixIsTakenOff) {
  RouterOptions options;
  options.name_suffix = "-lb";
  const ServiceRouter router = Router(options);
  EXPECT_EQ(Key(router.Route("checkout-lb:8000")), "prod/checkout");
  EXPECT_EQ(Key(router.Route("checkout-lb.shop.svc.cluster.local")), "shop/checkout");
  EXPECT_EQ(Key(router.Route("checkout")), "prod/checkout");  // without it too
  EXPECT_THAT(router.Route("-lb"), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST(ServiceRouterTest, ExplicitRoutesWinAndMayNameAPort) {
  RouterOptions options;
  options.routes = *ParseRoutes(R"(
checkout.example:8000: shop/checkout-v2
payments: {namespace: shop, service: payments, port: grpc-tls}
)");
  const ServiceRouter router = Router(options);
  EXPECT_EQ(Key(router.Route("checkout.example:8000")), "shop/checkout-v2");
  // Another port is not that route: read as svc.namespace, and refused.
  EXPECT_THAT(router.Route("checkout.example:9000"),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  const absl::StatusOr<ServiceRef> payments = router.Route("payments:443");
  ASSERT_THAT(payments, IsOk());
  EXPECT_EQ(payments->Key(), "shop/payments");
  EXPECT_EQ(payments->port, "grpc-tls");
}

TEST(ServiceRouterTest, NamespacesOutsideTheAllowListAreRefusedSayingWhy) {
  const ServiceRouter router = Router();
  EXPECT_THAT(router.Route("coredns.kube-system.svc.cluster.local:53"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       AllOf(HasSubstr("\"coredns.kube-system.svc.cluster.local:53\""),
                             HasSubstr("kube-system/coredns"), HasSubstr("JAWLB_NAMESPACES: prod, shop"))));
  // An explicit route cannot reach past the allow-list either.
  RouterOptions options;
  options.routes = *ParseRoutes("dns: kube-system/coredns");
  EXPECT_THAT(Router(options).Route("dns"), StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
  // Empty allow-list: only the default namespace.
  RouterOptions only_default;
  only_default.default_namespace = "prod";
  const ServiceRouter strict((only_default));
  EXPECT_EQ(Key(strict.Route("checkout")), "prod/checkout");
  EXPECT_THAT(strict.Route("checkout.shop"), StatusIs(absl::StatusCode::kPermissionDenied, ::testing::_));
}

TEST(ServiceRouterTest, WhatIsNoServiceNameIsRefusedSayingWhy) {
  const ServiceRouter router = Router();
  EXPECT_THAT(router.Route(""), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no name")));
  EXPECT_THAT(router.Route("10.0.0.1:50051"), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(router.Route("[fd00::1]:50051"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("an address")));
  EXPECT_THAT(router.Route("under_score"), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(router.Route("www.example.com"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("not a service of this cluster")));
  EXPECT_THAT(router.Route("a.b.c.d"), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

TEST(ParseRoutesTest, BadFilesNameTheEntry) {
  EXPECT_THAT(ParseRoutes(""), IsOk());
  EXPECT_THAT(ParseRoutes("[a, b]"), StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ParseRoutes("x: noslash"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("route \"x\"")));
  EXPECT_THAT(ParseRoutes("x: {namespace: a, service: b, colour: red}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown key \"colour\"")));
  EXPECT_THAT(ParseRoutes("x: Bad_NS/svc"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a namespace name")));
  EXPECT_THAT(ParseRoutes("x: [1"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("YAML")));
  EXPECT_THAT(ParseRoutes("X: a/b\nx: a/c"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
}

}  // namespace
}  // namespace jawlb::routing
