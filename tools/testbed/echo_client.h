// Echo client helpers: send Whoami RPCs over a (grpclb) channel and count which
// backend answered each, for the demo and the end-to-end tests.
//
// Threading: free functions; each blocks its calling thread.
#ifndef JAWLB_TOOLS_TESTBED_ECHO_CLIENT_H_
#define JAWLB_TOOLS_TESTBED_ECHO_CLIENT_H_

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace jawlb::testbed {

struct Spread {
  std::map<std::string, int> calls;  // backend name → RPCs it answered
  int failures = 0;
  std::string last_error;
  // "alpha=100 beta=100 failed=0".
  std::string ToString() const;
};

// Sends `count` RPCs one after another, each with `timeout`.
Spread CallMany(const std::shared_ptr<grpc::Channel>& channel, int count,
                absl::Duration timeout = absl::Seconds(5));

// Sends RPCs until `streak` in a row were answered, all by backends in `names`
// (and, when `all` is set, every one of them answered within the streak).
// DeadlineExceeded after `timeout`, with the last spread seen.
absl::Status WaitForSpread(const std::shared_ptr<grpc::Channel>& channel,
                           const std::set<std::string>& names, bool all, int streak,
                           absl::Duration timeout);

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_ECHO_CLIENT_H_
