#include "xds/ads_cursor.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "xds/resources.h"

namespace jawlb::xds {

std::optional<AdsCursor::Type> AdsCursor::TypeOf(absl::string_view type_url) {
  for (size_t i = 0; i < kTypes; ++i) {
    if (type_url == UrlOf(static_cast<Type>(i))) return static_cast<Type>(i);
  }
  return std::nullopt;
}

const char* AdsCursor::UrlOf(Type type) {
  switch (type) {
    case Type::kListener:
      return kListenerType;
    case Type::kRoute:
      return kRouteType;
    case Type::kCluster:
      return kClusterType;
    case Type::kEndpoints:
      return kEndpointsType;
  }
  return "";
}

AdsCursor::Kind AdsCursor::OnRequest(const Request& request) {
  TypeState& type = state(request.type);
  const std::set<std::string> names(request.names.begin(), request.names.end());
  if (!request.nonce.empty() && request.nonce != type.last_nonce) return Kind::kStale;
  type.names = names;
  if (request.nonce.empty()) {
    type.owed = true;  // a subscription, or a re-subscription after a reconnect
    return Kind::kSubscribe;
  }
  // It answers our last response of this type.
  if (!type.sent_any || type.sent_names != names) type.owed = true;
  if (!request.error.ok()) {
    type.seen.nack = std::string(request.error.message());
    ++type.seen.nacks;
    return Kind::kNack;
  }
  type.seen.acked_version = request.version;
  type.seen.nack.clear();
  ++type.seen.acks;
  return Kind::kAck;
}

std::optional<AdsCursor::Response> AdsCursor::Next(
    const std::array<uint64_t, kTypes>& fingerprints) {
  if (write_in_flight_) return std::nullopt;
  for (size_t i = 0; i < kTypes; ++i) {
    TypeState& type = types_[i];
    const bool changed =
        type.sent_any && !type.names.empty() && fingerprints[i] != type.sent_fingerprint;
    if (!type.owed && !changed) continue;
    type.owed = false;
    type.sent_any = true;
    type.sent_names = type.names;
    type.sent_fingerprint = fingerprints[i];
    write_in_flight_ = true;
    ++responses_;
    Response response;
    response.type = static_cast<Type>(i);
    response.names.assign(type.names.begin(), type.names.end());
    response.version = absl::StrCat(prefix_, "-", responses_);
    response.nonce = absl::StrCat(responses_);
    type.last_nonce = response.nonce;
    return response;
  }
  return std::nullopt;
}

}  // namespace jawlb::xds
