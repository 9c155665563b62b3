#include "discovery/endpoints_decoder.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "common/status_macros.h"
#include "discovery/backend_set.h"

namespace jawlb::discovery {
namespace {

using simdjson::dom::array;
using Elements = std::vector<simdjson::dom::element>;
using simdjson::dom::element;

absl::string_view View(std::string_view view) { return {view.data(), view.size()}; }

absl::Status Invalid(absl::string_view object_name, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("object \"", object_name, "\": ", what));
}

// The elements of the array at `key`: none when absent or null; an error when
// it is something else. (A default-constructed simdjson array points at no
// document, so "empty" is an empty vector, never a default array.)
absl::StatusOr<Elements> OptionalArray(element parent, const char* key, absl::string_view name) {
  Elements items;
  element value;
  if (parent[key].get(value) != simdjson::SUCCESS || value.is_null()) return items;
  array list;
  if (value.get(list) != simdjson::SUCCESS) {
    return Invalid(name, absl::StrCat(key, " is not a list"));
  }
  items.reserve(list.size());
  for (element item : list) items.push_back(item);
  return items;
}

// An optional boolean field; `absent` when missing or null.
bool OptionalBool(element parent, const char* key, bool absent) {
  element value;
  if (parent[key].get(value) != simdjson::SUCCESS) return absent;
  bool result = absent;
  if (value.get(result) != simdjson::SUCCESS) return absent;
  return result;
}

// The port for `target` among `ports` ([{name, port}]): 0 (with a warning) when
// there is none.
absl::StatusOr<uint16_t> FindPort(const Elements& ports, absl::string_view target,
                                  absl::string_view name, std::vector<std::string>& warnings) {
  int numeric = 0;
  if (absl::SimpleAtoi(target, &numeric)) {
    if (numeric < 1 || numeric > 65535) return Invalid(name, "target port out of range");
    return static_cast<uint16_t>(numeric);
  }
  std::vector<std::string> names;
  for (element port : ports) {
    std::string_view port_name;
    if (port["name"].get(port_name) != simdjson::SUCCESS) port_name = "";
    names.push_back(port_name.empty() ? "(unnamed)" : std::string(port_name));
    if (View(port_name) != target) continue;
    int64_t number = 0;
    if (port["port"].get(number) != simdjson::SUCCESS || number < 1 || number > 65535) {
      return Invalid(name, absl::StrCat("port \"", target, "\" has no valid number"));
    }
    return static_cast<uint16_t>(number);
  }
  warnings.push_back(absl::StrCat("\"", name, "\" has no port named \"", target, "\" (ports: ",
                                  names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
  return 0;
}

std::string TargetPod(element endpoint) {
  std::string_view kind;
  std::string_view pod;
  element ref;
  if (endpoint["targetRef"].get(ref) != simdjson::SUCCESS || !ref.is_object() ||
      ref["kind"].get(kind) != simdjson::SUCCESS || kind != "Pod" ||
      ref["name"].get(pod) != simdjson::SUCCESS) {
    return "";
  }
  return std::string(pod);
}

// Describes one listed address; `state` holds its conditions.
void Describe(absl::string_view address, uint16_t port, EndpointState state,
              DecodedObject& decoded) {
  const bool v6 = address.find(':') != absl::string_view::npos;
  state.address = v6 ? absl::StrCat("[", address, "]:", port) : absl::StrCat(address, ":", port);
  decoded.endpoints.push_back(std::move(state));
}

// Adds `address`:`port` to the backends, in `zone` if not ""; false (with a
// warning) when it is not an IP address.
bool AddAddress(absl::string_view address, uint16_t port, absl::string_view name,
                DecodedObject& decoded, const std::string& zone = "") {
  absl::StatusOr<Backend> backend = MakeBackend(address, port);
  if (!backend.ok()) {
    decoded.warnings.push_back(
        absl::StrCat("\"", name, "\": skipping address: ", backend.status().message()));
    return false;
  }
  if (!zone.empty()) decoded.zones[*backend] = zone;
  decoded.backends.push_back(*std::move(backend));
  return true;
}

// An endpoint's zone ("" when it has none, or one that cannot be used: a
// warning says why).
std::string Zone(element endpoint, DecodedObject& decoded) {
  element zone;
  if (endpoint["zone"].get(zone) != simdjson::SUCCESS || zone.is_null()) return "";
  std::string_view text;
  if (zone.get(text) != simdjson::SUCCESS) {
    decoded.warnings.push_back(
        absl::StrCat("\"", decoded.name, "\": an endpoint's zone is not a string"));
    return "";
  }
  if (text.size() > kMaxZoneBytes) {
    decoded.warnings.push_back(absl::StrCat("\"", decoded.name, "\": an endpoint's zone of ",
                                            text.size(), " bytes is ignored (at most ",
                                            kMaxZoneBytes, ")"));
    return "";
  }
  return std::string(text);
}

// One entry of a slice's endpoints: its addresses when ready and not terminating
// (and the slice has the port); described either way.
absl::Status DecodeSliceEndpoint(element endpoint, uint16_t port, DecodedObject& decoded) {
  const std::string& name = decoded.name;
  // A default-constructed element points at no document: never touch one.
  element conditions;
  const bool has_conditions =
      endpoint["conditions"].get(conditions) == simdjson::SUCCESS && conditions.is_object();
  const bool ready = !has_conditions || OptionalBool(conditions, "ready", true);
  const bool terminating = has_conditions && OptionalBool(conditions, "terminating", false);
  EndpointState state;
  state.ready = ready;
  state.serving = has_conditions ? OptionalBool(conditions, "serving", ready) : ready;
  state.terminating = terminating;
  state.pod = TargetPod(endpoint);
  state.zone = Zone(endpoint, decoded);
  absl::StatusOr<Elements> addresses = OptionalArray(endpoint, "addresses", name);
  if (!addresses.ok()) return addresses.status();
  if (!ready || terminating || port == 0) {  // port 0: the slice has no such port
    for (element address : *addresses) {
      std::string_view text;
      if (address.get(text) == simdjson::SUCCESS) Describe(View(text), port, state, decoded);
    }
    if (port == 0) return absl::OkStatus();
    // Serving while not ready (terminating with traffic still allowed) is worth
    // a word to the operator; clients are not sent it either way.
    std::string_view first;
    if (has_conditions && OptionalBool(conditions, "serving", ready) && !addresses->empty() &&
        (*addresses)[0].get(first) == simdjson::SUCCESS) {
      decoded.warnings.push_back(absl::StrCat("\"", name, "\": ", View(first), " is serving but ",
                                              terminating ? "terminating" : "not ready",
                                              ": not sent to clients"));
    }
    return absl::OkStatus();
  }
  for (element address : *addresses) {
    std::string_view text;
    if (address.get(text) != simdjson::SUCCESS) {
      return Invalid(name, "an address is not a string");
    }
    EndpointState described = state;
    described.used = AddAddress(View(text), port, name, decoded, state.zone);
    Describe(View(text), port, std::move(described), decoded);
  }
  return absl::OkStatus();
}

absl::Status DecodeSlice(element slice, absl::string_view target, DecodedObject& decoded) {
  const std::string& name = decoded.name;
  std::string_view address_type;
  if (slice["addressType"].get(address_type) != simdjson::SUCCESS) {
    return Invalid(name, "addressType is missing");
  }
  if (address_type != "IPv4" && address_type != "IPv6") {
    decoded.warnings.push_back(absl::StrCat("\"", name, "\": skipping slice of addressType ",
                                            View(address_type), " (only IPv4 and IPv6 are used)"));
    return absl::OkStatus();
  }
  absl::StatusOr<Elements> ports = OptionalArray(slice, "ports", name);
  if (!ports.ok()) return ports.status();
  absl::StatusOr<Elements> endpoints = OptionalArray(slice, "endpoints", name);
  if (!endpoints.ok()) return endpoints.status();
  if (endpoints->empty()) return absl::OkStatus();
  absl::StatusOr<uint16_t> port = FindPort(*ports, target, name, decoded.warnings);
  if (!port.ok()) return port.status();
  for (element endpoint : *endpoints) {
    JAWLB_RETURN_IF_ERROR(DecodeSliceEndpoint(endpoint, *port, decoded));
  }
  return absl::OkStatus();
}

// One subset of an Endpoints object: its ready addresses on the target port
// are used; not-ready ones are only described.
absl::Status DecodeLegacySubset(element subset, absl::string_view target, DecodedObject& decoded) {
  const std::string& name = decoded.name;
  absl::StatusOr<Elements> addresses = OptionalArray(subset, "addresses", name);
  if (!addresses.ok()) return addresses.status();
  absl::StatusOr<Elements> not_ready = OptionalArray(subset, "notReadyAddresses", name);
  if (!not_ready.ok()) return not_ready.status();
  if (addresses->empty() && not_ready->empty()) return absl::OkStatus();
  absl::StatusOr<Elements> ports = OptionalArray(subset, "ports", name);
  if (!ports.ok()) return ports.status();
  std::vector<std::string> unused;  // a missing port matters only with ready addresses
  absl::StatusOr<uint16_t> port =
      FindPort(*ports, target, name, addresses->empty() ? unused : decoded.warnings);
  if (!port.ok()) return port.status();
  for (element address : *not_ready) {
    std::string_view ip;
    if (address["ip"].get(ip) != simdjson::SUCCESS) continue;
    Describe(View(ip), *port, EndpointState{.pod = TargetPod(address)}, decoded);
  }
  for (element address : *addresses) {
    std::string_view ip;
    if (address["ip"].get(ip) != simdjson::SUCCESS) return Invalid(name, "an address has no ip");
    EndpointState state{.ready = true, .serving = true, .pod = TargetPod(address)};
    state.used = *port != 0 && AddAddress(View(ip), *port, name, decoded);
    Describe(View(ip), *port, std::move(state), decoded);
  }
  return absl::OkStatus();
}

absl::Status DecodeLegacyEndpoints(element endpoints, absl::string_view target,
                                   DecodedObject& decoded) {
  absl::StatusOr<Elements> subsets = OptionalArray(endpoints, "subsets", decoded.name);
  if (!subsets.ok()) return subsets.status();
  for (element subset : *subsets) {
    JAWLB_RETURN_IF_ERROR(DecodeLegacySubset(subset, target, decoded));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DecodedObject> DecodeEndpointsObject(EndpointsApi api, element object,
                                                    absl::string_view target_port) {
  DecodedObject decoded;
  std::string_view name;
  if (!object.is_object() || object["metadata"]["name"].get(name) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("object without metadata.name");
  }
  decoded.name = std::string(name);
  std::string_view weight;
  if (object["metadata"]["annotations"][kWeightAnnotation].get(weight) == simdjson::SUCCESS) {
    uint32_t value = 0;
    if (absl::SimpleAtoi(View(weight), &value) && value >= 1 && value <= BackendSet::kMaxWeight) {
      decoded.weight = value;
    } else {
      decoded.warnings.push_back(absl::StrCat(
          api == EndpointsApi::kEndpointSlices ? "EndpointSlice " : "Endpoints ", View(name),
          ": annotation ", kWeightAnnotation, "=\"", View(weight),
          "\" is not a whole number from 1 to ", BackendSet::kMaxWeight, "; its weight stays 1"));
    }
  }
  const absl::Status status = api == EndpointsApi::kEndpointSlices
                                  ? DecodeSlice(object, target_port, decoded)
                                  : DecodeLegacyEndpoints(object, target_port, decoded);
  if (!status.ok()) return status;
  return decoded;
}

}  // namespace jawlb::discovery
