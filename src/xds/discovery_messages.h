// The ADS stream's messages, read and written as plain values:
// ReadDiscoveryRequest() checks a client's DiscoveryRequest by the rules
// jawlb holds clients to (a type it serves; names bounded in number and
// length) and turns it into the AdsCursor's Request and, on a stream's first
// request, what the node says of itself; WriteDiscoveryResponse() writes a
// response around resources encoded elsewhere (shared by many streams)
// without copying them. An error is the status the stream ends with
// (INVALID_ARGUMENT, saying why).
//
// Threading: pure functions; thread-safe.
#ifndef JAWLB_XDS_DISCOVERY_MESSAGES_H_
#define JAWLB_XDS_DISCOVERY_MESSAGES_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "transport/server_call.h"
#include "xds/ads_cursor.h"

namespace jawlb::xds {

// The most names one request may carry, and the longest route, cluster or
// assignment name (listener names: grpclb::kMaxNameBytes, as grpclb names).
inline constexpr size_t kMaxNamesPerRequest = 1000;
inline constexpr size_t kMaxResourceNameBytes = 512;
// What is kept of the node's id, locality and user agent (for logs and
// /debug/state; the rest is cut, at a character's start).
inline constexpr size_t kMaxNodeFieldBytes = 128;

// The client as its bootstrap and library describe it.
struct NodeInfo {
  std::string id;
  std::string locality;    // "region/zone/sub_zone"; "" when it names none
  std::string user_agent;  // "gRPC C-core 1.51.1"; "" when it gives none
};

struct DiscoveryRequestRead {
  AdsCursor::Request request;
  // When the request names its node (clients do on a stream's first request
  // only: the ACKs that follow cost no copy of it).
  std::optional<NodeInfo> node;
};

// Reads one serialized DiscoveryRequest.
absl::StatusOr<DiscoveryRequestRead> ReadDiscoveryRequest(const std::string& message);

// A DiscoveryResponse of `type` holding `resources` (serialized Anys,
// referenced, not copied), framed for the wire.
transport::WireMessage WriteDiscoveryResponse(AdsCursor::Type type, const std::string& version,
                                              const std::string& nonce,
                                              const std::vector<transport::SharedBytes>& resources);

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_DISCOVERY_MESSAGES_H_
