// ReadClientMessage: what one LoadBalanceRequest from a client means, given
// whether its initial request came already, by the grpclb protocol's rules —
// decided from plain values. The stream's plumbing acts on the answer; an
// error is the status the stream ends with (INVALID_ARGUMENT, saying why).
//
// Threading: pure function; thread-safe.
#ifndef JAWLB_GRPCLB_CLIENT_MESSAGE_H_
#define JAWLB_GRPCLB_CLIENT_MESSAGE_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "grpc/lb/v1/load_balancer.pb.h"

#include "balancer/client_load.h"

namespace jawlb::grpclb {

// The longest InitialLoadBalanceRequest.name taken (the grpclb spec: "less
// than 256 bytes").
inline constexpr size_t kMaxNameBytes = 255;

struct ClientMessage {
  enum class Kind {
    kInitialRequest,  // `name`: the name the client dialed
    kLoadReport,      // `report`: its ClientStats
    kNothing,         // an empty request after the initial one: nothing to do
  };
  Kind kind = Kind::kNothing;
  std::string name;
  balancer::LoadReport report;
};

// The first message must be an initial_request with a name under 256 bytes;
// after it, only client_stats (or nothing) may follow.
absl::StatusOr<ClientMessage> ReadClientMessage(const grpc::lb::v1::LoadBalanceRequest& request,
                                                bool initial_received);

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_CLIENT_MESSAGE_H_
