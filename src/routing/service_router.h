// ServiceRouter: which Kubernetes service a grpclb client means by the name it
// dialed (InitialLoadBalanceRequest.name), for JAWLB_MODE=multi.
//
// The name is what the client's channel target said: "myservice:50051",
// "myservice.prod", "myservice.prod.svc.cluster.local:8000", "myservice-lb".
// Routing, in order:
// 1. a trailing ":port" is stripped (and a trailing dot);
// 2. an explicit route (JAWLB_ROUTES) for the name, with or without its port,
//    wins;
// 3. otherwise the DNS forms Kubernetes gives services: svc, svc.ns,
//    svc.ns.svc, svc.ns.svc.<cluster domain>; a bare svc is in the default
//    namespace (JAWLB_NAMESPACE);
// 4. the balancer-name suffix (JAWLB_NAMESUFFIX, e.g. "-lb") is taken off the
//    service name: clients dial the balancer's own Service, "myservice-lb";
// 5. the namespace must be allowed (JAWLB_NAMESPACES; empty: only the default
//    one), so a client can never make jawlb read a namespace the operator did
//    not grant.
// Refusals name what was asked and why: InvalidArgument for what is no
// service name at all, NotFound for a name in another domain, PermissionDenied
// for a namespace outside the allow-list.
//
// Threading: immutable after construction; thread-safe. Pure: no I/O.
#ifndef JAWLB_ROUTING_SERVICE_ROUTER_H_
#define JAWLB_ROUTING_SERVICE_ROUTER_H_

#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jawlb::routing {

// A service jawlb can watch.
struct ServiceRef {
  std::string namespace_;
  std::string name;
  std::string port;  // the port name to use; "" for the default (JAWLB_TARGETPORT)

  // "namespace/name", the `service` label in metrics.
  std::string Key() const { return namespace_ + "/" + name; }
  friend bool operator==(const ServiceRef&, const ServiceRef&) = default;
  friend auto operator<=>(const ServiceRef&, const ServiceRef&) = default;
};

struct RouterOptions {
  std::string default_namespace = "default";
  std::set<std::string> allowed_namespaces;  // empty: only default_namespace
  std::string cluster_domain = "cluster.local";
  std::string name_suffix;                    // "" for none
  std::map<std::string, ServiceRef> routes;  // by name (lower case, maybe with ":port")
};

class ServiceRouter {
 public:
  explicit ServiceRouter(RouterOptions options);

  absl::StatusOr<ServiceRef> Route(absl::string_view name) const;

  const RouterOptions& options() const { return options_; }

 private:
  absl::Status CheckAllowed(absl::string_view name, const ServiceRef& service) const;

  RouterOptions options_;
};

// Parses a JAWLB_ROUTES file: a YAML mapping from name to a target, either
// "namespace/service" (optionally "namespace/service:portname") or a mapping
// with keys namespace, service and port:
//   checkout.example:8000: shop/checkout
//   payments: {namespace: shop, service: payments-v2, port: grpc-tls}
// InvalidArgument naming the entry for anything else.
absl::StatusOr<std::map<std::string, ServiceRef>> ParseRoutes(absl::string_view yaml);

}  // namespace jawlb::routing

#endif  // JAWLB_ROUTING_SERVICE_ROUTER_H_
