// ToGrpcStatus: the one conversion from absl::Status to grpc::Status. The codes
// map 1:1; the message travels unchanged. CodeName: a code's name, for metrics.
//
// Threading: pure function; thread-safe.
#ifndef JAWLB_GRPCLB_GRPC_STATUS_H_
#define JAWLB_GRPCLB_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace jawlb::grpclb {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// "UNAVAILABLE", "OK", ...: the code's canonical name (the codes are absl's).
inline std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_GRPC_STATUS_H_
