// Endpoints decoding: from one Kubernetes object (a discovery.k8s.io/v1
// EndpointSlice or a core/v1 Endpoints) to the backends it contributes.
//
// Rules (as the API documents them):
// - EndpointSlice: an endpoint is used when conditions.ready is true (absent
//   means ready) and conditions.terminating is not true; IPv4 and IPv6 slices
//   are decoded, FQDN slices contribute nothing (with a warning);
// - Endpoints: subsets[].addresses only, never notReadyAddresses;
// Every address is also described with its conditions (EndpointState), used
// or not, for the state page.
// - the port is the one named `target_port` (per slice / per subset); a numeric
//   `target_port` is the port number itself;
// - an EndpointSlice endpoint's `zone` (topology.kubernetes.io/zone of its
//   node) is kept with its backends: xDS clients get it as their locality's
//   zone. One longer than kMaxZoneBytes, or not a string, is a warning.
//
// Threading: pure functions; thread-safe.
#ifndef JAWLB_DISCOVERY_ENDPOINTS_DECODER_H_
#define JAWLB_DISCOVERY_ENDPOINTS_DECODER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include <simdjson.h>

#include "discovery/backend.h"

namespace jawlb::discovery {

// An annotation on an EndpointSlice (or Endpoints object) giving every backend
// it lists a weight: a whole number from 1 to BackendSet::kMaxWeight. Anything
// else is a warning, and the weight stays 1.
inline constexpr char kWeightAnnotation[] = "jawlb.io/weight";

inline constexpr size_t kMaxZoneBytes = 128;

// Which API the objects come from.
enum class EndpointsApi { kEndpointSlices, kEndpoints };

struct DecodedObject {
  std::string name;               // metadata.name
  std::vector<Backend> backends;  // what it contributes (unsorted, may repeat)
  // Its backends' weight: the annotation kWeightAnnotation, 1 without it.
  uint32_t weight = 1;
  std::map<Backend, std::string> zones;  // of its backends whose endpoint names one
  std::vector<EndpointState> endpoints;  // every address it lists, for operators
  // Things an operator should know (skipped endpoints, a missing port name),
  // one sentence each.
  std::vector<std::string> warnings;
};

// Decodes one object of `api`. InvalidArgument when it is not an object of that
// shape (no metadata.name, a field of the wrong type); odd but valid content
// (no port of that name, an FQDN slice) gives warnings, not errors.
absl::StatusOr<DecodedObject> DecodeEndpointsObject(EndpointsApi api, simdjson::dom::element object,
                                                    absl::string_view target_port);

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_ENDPOINTS_DECODER_H_
