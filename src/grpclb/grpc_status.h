// ToGrpcStatus: the one conversion from absl::Status to grpc::Status. The codes
// map 1:1; the message travels unchanged.
//
// Threading: pure function; thread-safe.
#ifndef JAWLB_GRPCLB_GRPC_STATUS_H_
#define JAWLB_GRPCLB_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace jawlb::grpclb {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_GRPC_STATUS_H_
