// Status macros: early return for absl::Status, which Debian's Abseil
// (20220623) does not provide. JAWLB_ASSIGN_OR_RETURN joins it when code needs it.
//
// Threading: stateless.
#ifndef JAWLB_COMMON_STATUS_MACROS_H_
#define JAWLB_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"

// Returns `expr` from the enclosing function if it is not OK.
#define JAWLB_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status jawlb_status_ = (expr);         \
    if (!jawlb_status_.ok()) return jawlb_status_; \
  } while (0)

#endif  // JAWLB_COMMON_STATUS_MACROS_H_
