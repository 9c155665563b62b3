#include "xds/discovery_messages.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/impl/codegen/proto_utils.h"

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "grpclb/client_message.h"

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

absl::StatusOr<DiscoveryRequestRead> ReadDiscoveryRequest(grpc::ByteBuffer& message) {
  DiscoveryRequest request;
  if (!grpc::SerializationTraits<DiscoveryRequest>::Deserialize(&message, &request).ok()) {
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

grpc::ByteBuffer WriteDiscoveryResponse(AdsCursor::Type type, const std::string& version,
                                        const std::string& nonce,
                                        std::vector<grpc::Slice> resources) {
  // Field by field, the stream's own fields first (a parser takes fields in
  // any order): type_url, version_info and nonce, then each resource as a
  // slice of its own after its tag and length. The bytes between shared
  // slices go in one slice: two slices for a response of one resource.
  std::vector<grpc::Slice> slices;
  slices.reserve(2 * resources.size() + 1);
  std::string own;
  const absl::string_view url = AdsCursor::UrlOf(type);
  own.reserve(url.size() + version.size() + nonce.size() + 16);
  for (const auto& [number, bytes] :
       {std::pair<int, absl::string_view>{4, url}, {1, version}, {5, nonce}}) {
    AppendFieldPrefix(own, number, bytes.size());
    own.append(bytes.data(), bytes.size());
  }
  for (grpc::Slice& resource : resources) {
    AppendFieldPrefix(own, 2, resource.size());
    slices.emplace_back(own);
    own.clear();
    slices.push_back(std::move(resource));
  }
  if (!own.empty()) slices.emplace_back(own);
  return grpc::ByteBuffer(slices.data(), slices.size());
}

}  // namespace jawlb::xds
