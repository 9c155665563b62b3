#include "testbed/ads_client.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"

namespace jawlb::testbed {
namespace {

constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
constexpr char kEndpointsType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

}  // namespace

AdsClient::AdsClient(int port, const std::string& node) : node_(node) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own connection
  channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                       grpc::InsecureChannelCredentials(), args);
  stub_ = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel_);
  context_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Minutes(10)));
  stream_ = stub_->StreamAggregatedResources(&context_);
}

AdsClient::~AdsClient() { context_.TryCancel(); }

bool AdsClient::Send(const std::string& type, const std::string& version,
                     const std::string& nonce) {
  Request request;
  if (!node_sent_) {
    request.mutable_node()->set_id(node_);
    node_sent_ = true;
  }
  request.set_type_url(type);
  request.add_resource_names(names_[type]);
  request.set_version_info(version);
  request.set_response_nonce(nonce);
  return stream_->Write(request);
}

absl::StatusOr<AdsClient::Response> AdsClient::ReadAndAck() {
  Response response;
  if (!stream_->Read(&response)) {
    const grpc::Status status = stream_->Finish();
    return absl::UnavailableError(absl::StrCat("the ADS stream ended: ", status.error_message()));
  }
  if (!Send(response.type_url(), response.version_info(), response.nonce())) {
    return absl::UnavailableError("the ADS stream ended while ACKing");
  }
  return response;
}

absl::StatusOr<std::string> AdsClient::Subscribe(const std::string& name) {
  names_[kListenerType] = name;
  if (!Send(kListenerType, "", "")) return absl::UnavailableError("the ADS stream ended");
  for (;;) {
    absl::StatusOr<Response> response = ReadAndAck();
    if (!response.ok()) return response.status();
    if (response->type_url() != kListenerType) continue;
    for (const auto& any : response->resources()) {
      envoy::config::listener::v3::Listener listener;
      envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
      if (!any.UnpackTo(&listener) || listener.name() != name ||
          !listener.api_listener().api_listener().UnpackTo(&hcm)) {
        continue;
      }
      const std::string cluster = hcm.rds().route_config_name();
      names_[kEndpointsType] = cluster;
      if (!Send(kEndpointsType, "", "")) return absl::UnavailableError("the ADS stream ended");
      return cluster;
    }
    return absl::NotFoundError(absl::StrCat("no listener ", name, " in the response"));
  }
}

absl::StatusOr<envoy::config::endpoint::v3::ClusterLoadAssignment> AdsClient::NextAssignment() {
  for (;;) {
    absl::StatusOr<Response> response = ReadAndAck();
    if (!response.ok()) return response.status();
    if (response->type_url() != kEndpointsType) continue;
    for (const auto& any : response->resources()) {
      envoy::config::endpoint::v3::ClusterLoadAssignment assignment;
      if (any.UnpackTo(&assignment)) return assignment;
    }
  }
}

std::vector<std::string> AdsClient::Addresses(
    const envoy::config::endpoint::v3::ClusterLoadAssignment& assignment) {
  std::vector<std::string> addresses;
  for (const auto& locality : assignment.endpoints()) {
    for (const auto& endpoint : locality.lb_endpoints()) {
      const auto& socket = endpoint.endpoint().address().socket_address();
      addresses.push_back(absl::StrCat(socket.address(), ":", socket.port_value()));
    }
  }
  std::sort(addresses.begin(), addresses.end());
  return addresses;
}

}  // namespace jawlb::testbed
