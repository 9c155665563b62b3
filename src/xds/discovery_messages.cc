#include "xds/discovery_messages.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "grpclb/client_message.h"
#include "transport/grpc_message.h"

namespace jawlb::xds {
namespace {

using envoy::service::discovery::v3::DiscoveryRequest;

// At most kMaxNodeFieldBytes of `text`, cut at a character's start (proto
// strings are UTF-8).
std::string Cut(absl::string_view text) {
  if (text.size() <= kMaxNodeFieldBytes) return std::string(text);
  size_t end = kMaxNodeFieldBytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

NodeInfo ReadNode(const envoy::config::core::v3::Node& node) {
  NodeInfo info;
  info.id = Cut(node.id());
  const auto& locality = node.locality();
  if (!locality.region().empty() || !locality.zone().empty() || !locality.sub_zone().empty()) {
    info.locality =
        Cut(absl::StrCat(locality.region(), "/", locality.zone(), "/", locality.sub_zone()));
  }
  info.user_agent = Cut(node.user_agent_version().empty()
                            ? node.user_agent_name()
                            : absl::StrCat(node.user_agent_name(), " ", node.user_agent_version()));
  return info;
}

// Names come from the client: bounded in number and length (a listener name
// is what it dialed, under 256 bytes as grpclb names are).
absl::Status CheckNames(AdsCursor::Type type, const DiscoveryRequest& request) {
  if (request.resource_names_size() > static_cast<int>(kMaxNamesPerRequest)) {
    return absl::InvalidArgumentError(absl::StrCat(request.resource_names_size(),
                                                   " resource names in one request; at most ",
                                                   kMaxNamesPerRequest, " are taken"));
  }
  const size_t max_bytes =
      type == AdsCursor::Type::kListener ? grpclb::kMaxNameBytes : kMaxResourceNameBytes;
  for (const std::string& name : request.resource_names()) {
    if (name.size() > max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("a resource name of ", name.size(),
                                                     " bytes; at most ", max_bytes, " are taken"));
    }
  }
  return absl::OkStatus();
}

// Appends `value` as a protobuf varint.
void AppendVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// Appends the tag and length of field `number`, a length-delimited value of
// `size` bytes.
void AppendFieldPrefix(std::string& out, int number, size_t size) {
  AppendVarint(out, static_cast<uint64_t>(number) << 3 | 2);
  AppendVarint(out, size);
}

}  // namespace

absl::StatusOr<DiscoveryRequestRead> ReadDiscoveryRequest(const std::string& message) {
  DiscoveryRequest request;
  if (!request.ParseFromString(message)) {
    return absl::InvalidArgumentError("malformed DiscoveryRequest: not a valid protobuf message");
  }
  const std::optional<AdsCursor::Type> type = AdsCursor::TypeOf(request.type_url());
  if (!type.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("type_url \"", Cut(request.type_url()),
                     "\" is not served here (xDS v3 Listener, RouteConfiguration, Cluster and "
                     "ClusterLoadAssignment are)"));
  }
  if (absl::Status names = CheckNames(*type, request); !names.ok()) return names;
  DiscoveryRequestRead read;
  if (request.has_node()) read.node = ReadNode(request.node());
  AdsCursor::Request& parsed = read.request;
  parsed.type = *type;
  parsed.names.assign(request.resource_names().begin(), request.resource_names().end());
  parsed.version = request.version_info();
  parsed.nonce = request.response_nonce();
  if (request.has_error_detail()) {
    parsed.error = absl::Status(static_cast<absl::StatusCode>(request.error_detail().code()),
                                request.error_detail().message());
    if (parsed.error.ok()) parsed.error = absl::UnknownError("NACK without a code");
  }
  return read;
}

transport::WireMessage WriteDiscoveryResponse(
    AdsCursor::Type type, const std::string& version, const std::string& nonce,
    const std::vector<transport::SharedBytes>& resources) {
  // Field by field, the stream's own fields first (a parser takes fields in
  // any order): type_url, version_info and nonce, then each resource after
  // its tag and length, as the piece it is. The bytes between shared pieces
  // are one piece of their own: two pieces for a response of one resource.
  std::vector<std::string> own(1);
  const absl::string_view url = AdsCursor::UrlOf(type);
  own[0].reserve(transport::kMessagePrefixBytes + url.size() + version.size() + nonce.size() + 24);
  own[0].resize(transport::kMessagePrefixBytes);  // written once the length is known
  for (const auto& [number, bytes] :
       {std::pair<int, absl::string_view>{4, url}, {1, version}, {5, nonce}}) {
    AppendFieldPrefix(own[0], number, bytes.size());
    own[0].append(bytes.data(), bytes.size());
  }
  size_t length = 0;
  for (const transport::SharedBytes& resource : resources) {
    AppendFieldPrefix(own.back(), 2, resource->size());
    own.emplace_back();
    length += resource->size();
  }
  for (const std::string& bytes : own) length += bytes.size();
  length -= transport::kMessagePrefixBytes;
  std::string prefix;
  transport::AppendMessagePrefix(prefix, length);
  own[0].replace(0, prefix.size(), prefix);
  transport::WireMessage message;
  for (size_t i = 0; i < own.size(); ++i) {
    if (!own[i].empty()) message.Add(std::make_shared<const std::string>(std::move(own[i])));
    if (i < resources.size()) message.Add(resources[i]);
  }
  return message;
}

}  // namespace jawlb::xds
