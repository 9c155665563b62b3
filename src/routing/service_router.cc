#include "routing/service_router.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "yaml-cpp/yaml.h"

#include "common/dns_label.h"

namespace jawlb::routing {
namespace {

constexpr char kForms[] = "svc, svc.namespace, svc.namespace.svc or svc.namespace.svc.";

// "name:50051" → "name" (a port is digits only).
absl::string_view StripPort(absl::string_view name) {
  const size_t colon = name.rfind(':');
  if (colon == absl::string_view::npos || colon + 1 == name.size()) return name;
  for (char c : name.substr(colon + 1)) {
    if (!absl::ascii_isdigit(c)) return name;
  }
  return name.substr(0, colon);
}

absl::StatusOr<ServiceRef> ParseTarget(absl::string_view key, const YAML::Node& node) {
  ServiceRef ref;
  if (node.IsScalar()) {
    std::string text = node.as<std::string>();
    const std::vector<std::string> parts = absl::StrSplit(text, absl::MaxSplits('/', 1));
    if (parts.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "route \"", key, "\": \"", text, "\" is not namespace/service[:port name]"));
    }
    ref.namespace_ = parts[0];
    const std::vector<std::string> name_port = absl::StrSplit(parts[1], absl::MaxSplits(':', 1));
    ref.name = name_port[0];
    if (name_port.size() == 2) ref.port = name_port[1];
  } else if (node.IsMap()) {
    for (const auto& field : node) {
      const std::string name = field.first.as<std::string>();
      if (!field.second.IsScalar()) {
        return absl::InvalidArgumentError(
            absl::StrCat("route \"", key, "\": ", name, " is not a plain value"));
      }
      const std::string value = field.second.as<std::string>();
      if (name == "namespace") {
        ref.namespace_ = value;
      } else if (name == "service") {
        ref.name = value;
      } else if (name == "port") {
        ref.port = value;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "route \"", key, "\": unknown key \"", name, "\" (namespace, service, port)"));
      }
    }
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "route \"", key, "\": give namespace/service or {namespace, service, port}"));
  }
  if (!IsDnsLabel(ref.namespace_, false)) {
    return absl::InvalidArgumentError(
        absl::StrCat("route \"", key, "\": \"", ref.namespace_, "\" is not a namespace name"));
  }
  if (!IsDnsLabel(ref.name, true)) {
    return absl::InvalidArgumentError(
        absl::StrCat("route \"", key, "\": \"", ref.name, "\" is not a service name"));
  }
  if (!ref.port.empty() && !IsDnsLabel(ref.port, false)) {
    return absl::InvalidArgumentError(
        absl::StrCat("route \"", key, "\": \"", ref.port, "\" is not a port name"));
  }
  return ref;
}

}  // namespace

ServiceRouter::ServiceRouter(RouterOptions options) : options_(std::move(options)) {
  if (options_.allowed_namespaces.empty()) {
    options_.allowed_namespaces.insert(options_.default_namespace);
  }
}

absl::Status ServiceRouter::CheckAllowed(absl::string_view name, const ServiceRef& service) const {
  if (options_.allowed_namespaces.contains(service.namespace_)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "\"", name, "\" is service ", service.Key(), ", in namespace ", service.namespace_,
      ", which this jawlb does not serve (JAWLB_NAMESPACES: ",
      absl::StrJoin(options_.allowed_namespaces, ", "), ")"));
}

absl::StatusOr<ServiceRef> ServiceRouter::Route(absl::string_view asked) const {
  std::string full = absl::AsciiStrToLower(absl::StripAsciiWhitespace(asked));
  if (full.empty()) {
    return absl::InvalidArgumentError(
        "the client sent no name: in multi mode the name it dialed chooses the service");
  }
  if (absl::StrContains(full, '[') || std::count(full.begin(), full.end(), ':') > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", asked, "\" is an address, not a service name"));
  }
  absl::string_view host = StripPort(full);
  if (absl::EndsWith(host, ".")) host.remove_suffix(1);
  // An explicit route, for the name with its port or without.
  for (const std::string& key : {full, std::string(host)}) {
    if (auto it = options_.routes.find(key); it != options_.routes.end()) {
      if (absl::Status allowed = CheckAllowed(asked, it->second); !allowed.ok()) return allowed;
      return it->second;
    }
  }
  const std::vector<absl::string_view> labels = absl::StrSplit(host, '.');
  if (std::all_of(labels.begin(), labels.end(), [](absl::string_view label) {
        return !label.empty() && std::all_of(label.begin(), label.end(), absl::ascii_isdigit);
      })) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", asked, "\" is an address, not a service name"));
  }
  const std::vector<absl::string_view> domain = absl::StrSplit(options_.cluster_domain, '.');
  ServiceRef service;
  service.name = std::string(labels[0]);
  service.namespace_ = labels.size() >= 2 ? std::string(labels[1]) : options_.default_namespace;
  bool known_form = labels.size() <= 2 || (labels.size() >= 3 && labels[2] == "svc");
  if (labels.size() > 3) {
    known_form = known_form && std::vector<absl::string_view>(labels.begin() + 3, labels.end()) ==
                                   domain;
  }
  if (!known_form) {
    return absl::NotFoundError(absl::StrCat("\"", asked, "\" is not a service of this cluster: ",
                                            "names are ", kForms, options_.cluster_domain));
  }
  if (!options_.name_suffix.empty() && absl::EndsWith(service.name, options_.name_suffix) &&
      service.name.size() > options_.name_suffix.size()) {
    service.name.resize(service.name.size() - options_.name_suffix.size());
  }
  if (!IsDnsLabel(service.name, true) || !IsDnsLabel(service.namespace_, false)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", asked, "\" is not a service name (", kForms, options_.cluster_domain, ")"));
  }
  if (absl::Status allowed = CheckAllowed(asked, service); !allowed.ok()) return allowed;
  return service;
}

absl::StatusOr<std::map<std::string, ServiceRef>> ParseRoutes(absl::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not YAML: ", e.what()));
  }
  std::map<std::string, ServiceRef> routes;
  if (root.IsNull()) return routes;
  if (!root.IsMap()) {
    return absl::InvalidArgumentError("not a mapping of name to namespace/service");
  }
  for (const auto& entry : root) {
    if (!entry.first.IsScalar()) return absl::InvalidArgumentError("a name that is not text");
    const std::string key = absl::AsciiStrToLower(entry.first.as<std::string>());
    absl::StatusOr<ServiceRef> target = ParseTarget(key, entry.second);
    if (!target.ok()) return target.status();
    if (!routes.emplace(key, *std::move(target)).second) {
      return absl::InvalidArgumentError(absl::StrCat("route \"", key, "\" is given twice"));
    }
  }
  return routes;
}

}  // namespace jawlb::routing
