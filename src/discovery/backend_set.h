// BackendSet: the complete set of ready backends of one service at one moment,
// sorted and without duplicates, with what is known of each beyond its address
// (a weight, a zone). Sources produce it; the Hub turns it into the ServerList
// every grpclb client receives and the assignment xDS clients get.
//
// Threading: a value type; immutable after construction, so const access from
// any number of threads is safe.
#ifndef JAWLB_DISCOVERY_BACKEND_SET_H_
#define JAWLB_DISCOVERY_BACKEND_SET_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "discovery/backend.h"

namespace jawlb::discovery {

class BackendSet {
 public:
  BackendSet() = default;
  // The most a backend's weight can be.
  static constexpr uint32_t kMaxWeight = 100;

  // Sorts `backends` by address and port and drops duplicates, so equal sets
  // compare equal and every client sees the same order. `weights`: backends
  // that should get more than their share (a backend of weight w is picked w
  // times as often as one of weight 1); entries for backends not in the set,
  // and weights of 0 or 1, are dropped; weights are capped at kMaxWeight.
  // `zones`: the zone each backend runs in, where known (EndpointSlice
  // endpoints' `zone`); entries for backends not in the set, and empty zones,
  // are dropped.
  explicit BackendSet(std::vector<Backend> backends,
                      const std::map<Backend, uint32_t>& weights = {},
                      const std::map<Backend, std::string>& zones = {});

  // The backends of `keep` that are in this set, with their weights and
  // zones (a client's subset, the healthy ones, the ones that fit).
  BackendSet Restrict(std::vector<Backend> keep) const;

  const std::vector<Backend>& backends() const { return backends_; }
  // The weights other than 1.
  const std::map<Backend, uint32_t>& weights() const { return weights_; }
  uint32_t WeightOf(const Backend& backend) const;
  // The zones known (non-empty).
  const std::map<Backend, std::string>& zones() const { return zones_; }
  // "" when unknown.
  const std::string& ZoneOf(const Backend& backend) const;
  bool empty() const { return backends_.empty(); }
  size_t size() const { return backends_.size(); }

  // "10.0.0.1:80,10.0.0.2:80*3" (or "(none)"), for logs: *w marks a weight.
  std::string ToString() const;

  friend bool operator==(const BackendSet&, const BackendSet&) = default;

 private:
  std::vector<Backend> backends_;
  std::map<Backend, uint32_t> weights_;
  std::map<Backend, std::string> zones_;
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
