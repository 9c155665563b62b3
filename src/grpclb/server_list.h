// ServerList encoding: from a BackendSet to the exact LoadBalanceResponse bytes
// a grpclb client receives, and the InitialLoadBalanceResponse.
//
// Rules every grpclb client depends on (see README.md, "What clients get"):
// - IPv4 goes out as 4 bytes, IPv6 as 16, never IPv4-mapped IPv6;
// - never an empty ServerList: zero backends become one drop entry with the
//   token kNoBackendsToken, so clients fail RPCs fast with UNAVAILABLE.
//
// Threading: pure functions; thread-safe.
#ifndef JAWLB_GRPCLB_SERVER_LIST_H_
#define JAWLB_GRPCLB_SERVER_LIST_H_

#include <string>

#include "absl/time/time.h"
#include "grpc/lb/v1/load_balancer.pb.h"
#include "grpcpp/support/byte_buffer.h"

#include "discovery/backend_set.h"

namespace jawlb::grpclb {

// The load_balance_token of the drop entry sent when a service has no backends.
inline constexpr char kNoBackendsToken[] = "jawlb-no-backends";

// LoadBalanceResponse{server_list} for `backends`, in their order.
grpc::lb::v1::LoadBalanceResponse MakeServerListResponse(const discovery::BackendSet& backends);

// LoadBalanceResponse{initial_response} asking for ClientStats every `interval`
// (zero: never).
grpc::lb::v1::LoadBalanceResponse MakeInitialResponse(absl::Duration client_stats_interval);

// `message` serialized into a single refcounted slice.
grpc::ByteBuffer Serialize(const google::protobuf::MessageLite& message);

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_SERVER_LIST_H_
