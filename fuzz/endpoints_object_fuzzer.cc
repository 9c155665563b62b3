// libFuzzer target: an EndpointSlice or Endpoints object from the API server
// as jawlb decodes it (simdjson, then DecodeEndpointsObject: names, ports,
// addresses, conditions, the weight annotation, zones). Whatever the bytes:
// no crash, no sanitizer report, and a decoded object within its bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "discovery/backend_set.h"
#include "discovery/endpoints_decoder.h"
#include "simdjson.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static simdjson::dom::parser parser;
  simdjson::dom::element object;
  if (parser.parse(reinterpret_cast<const char*>(data), size).get(object) != simdjson::SUCCESS) {
    return 0;
  }
  for (const auto api : {jawlb::discovery::EndpointsApi::kEndpointSlices,
                         jawlb::discovery::EndpointsApi::kEndpoints}) {
    absl::StatusOr<jawlb::discovery::DecodedObject> decoded =
        jawlb::discovery::DecodeEndpointsObject(api, object, "grpc");
    if (!decoded.ok()) continue;
    if (decoded->weight < 1 || decoded->weight > jawlb::discovery::BackendSet::kMaxWeight) abort();
    for (const auto& [backend, zone] : decoded->zones) {
      if (zone.size() > jawlb::discovery::kMaxZoneBytes) abort();
    }
  }
  return 0;
}
