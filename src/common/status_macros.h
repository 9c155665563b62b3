// Status macros: early return for absl::Status / absl::StatusOr, which Debian's
// Abseil (20220623) does not provide. The only macros Jawlb defines.
//
// Threading: stateless.
#ifndef JAWLB_COMMON_STATUS_MACROS_H_
#define JAWLB_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns `expr` from the enclosing function if it is not OK.
#define JAWLB_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status jawlb_status_ = (expr);         \
    if (!jawlb_status_.ok()) return jawlb_status_; \
  } while (0)

#define JAWLB_STATUS_MACROS_CONCAT_INNER_(a, b) a##b
#define JAWLB_STATUS_MACROS_CONCAT_(a, b) JAWLB_STATUS_MACROS_CONCAT_INNER_(a, b)

// `lhs = *expr` when `expr` (an absl::StatusOr) is OK; returns its status otherwise.
#define JAWLB_ASSIGN_OR_RETURN(lhs, expr) \
  JAWLB_ASSIGN_OR_RETURN_IMPL_(JAWLB_STATUS_MACROS_CONCAT_(jawlb_statusor_, __LINE__), lhs, expr)

#define JAWLB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr)  \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = *std::move(statusor)

#endif  // JAWLB_COMMON_STATUS_MACROS_H_
