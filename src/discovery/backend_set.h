// BackendSet: the complete set of ready backends of one service at one moment,
// sorted and without duplicates. Sources produce it; the grpclb Hub turns it
// into the ServerList every client receives.
//
// Threading: a value type; immutable after construction, so const access from
// any number of threads is safe.
#ifndef JAWLB_DISCOVERY_BACKEND_SET_H_
#define JAWLB_DISCOVERY_BACKEND_SET_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "discovery/backend.h"

namespace jawlb::discovery {

class BackendSet {
 public:
  BackendSet() = default;
  // Sorts `backends` by address and port and drops duplicates, so equal sets
  // compare equal and every client sees the same order.
  explicit BackendSet(std::vector<Backend> backends);

  const std::vector<Backend>& backends() const { return backends_; }
  bool empty() const { return backends_.empty(); }
  size_t size() const { return backends_.size(); }

  // "10.0.0.1:80,10.0.0.2:80" (or "(none)"), for logs.
  std::string ToString() const;

  friend bool operator==(const BackendSet&, const BackendSet&) = default;

 private:
  std::vector<Backend> backends_;
};

// What changed from `before` to `after`: "+10.0.0.7:50051 -10.0.0.3:50051", or
// "(no change)"; past `limit` changes, "... and N more".
std::string DescribeChange(const BackendSet& before, const BackendSet& after, size_t limit = 20);

// Parses a list of endpoints separated by commas, spaces or newlines; text from
// '#' to the end of a line is a comment. An empty list is valid (zero backends).
// Errors are InvalidArgument naming the first bad entry (and its line, if the
// text has more than one).
absl::StatusOr<BackendSet> ParseBackendList(absl::string_view text);

}  // namespace jawlb::discovery

#endif  // JAWLB_DISCOVERY_BACKEND_SET_H_
