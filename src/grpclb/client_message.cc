#include "grpclb/client_message.h"

#include "absl/strings/str_cat.h"

#include "grpclb/client_stats.h"

namespace jawlb::grpclb {

absl::StatusOr<ClientMessage> ReadClientMessage(const grpc::lb::v1::LoadBalanceRequest& request,
                                                bool initial_received) {
  ClientMessage message;
  if (!initial_received) {
    if (!request.has_initial_request()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the first LoadBalanceRequest must be an initial_request, got ",
                       request.has_client_stats() ? "client_stats" : "an empty request"));
    }
    const std::string& name = request.initial_request().name();
    if (name.size() > kMaxNameBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("InitialLoadBalanceRequest.name is ", name.size(), " bytes; at most ",
                       kMaxNameBytes, " are taken (grpclb names are under 256 bytes)"));
    }
    message.kind = ClientMessage::Kind::kInitialRequest;
    message.name = name;
    return message;
  }
  if (request.has_initial_request()) {
    return absl::InvalidArgumentError(
        "initial_request sent twice: after it, a stream carries only client_stats");
  }
  if (request.has_client_stats()) {
    message.kind = ClientMessage::Kind::kLoadReport;
    message.report = ToLoadReport(request.client_stats());
  }
  return message;
}

}  // namespace jawlb::grpclb
