// ClientLoad: what one client has reported about its calls over its stream,
// summed from the ClientStats deltas it sends. The balancing policy reads these
// in a later stage; for now they are recorded and logged.
//
// Clients report nonsense sometimes (negative counts after a bug, huge values):
// a report with a negative or absurd count is counted as rejected and ignored
// whole, so it never skews the totals.
//
// Threading: a value type; thread-compatible (each stream guards its own).
#ifndef JAWLB_GRPCLB_CLIENT_STATS_H_
#define JAWLB_GRPCLB_CLIENT_STATS_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpc/lb/v1/load_balancer.pb.h"

namespace jawlb::grpclb {

struct ClientLoad {
  int64_t reports = 0;           // reports accepted
  int64_t rejected_reports = 0;  // reports ignored as nonsense
  int64_t calls_started = 0;
  int64_t calls_finished = 0;
  int64_t calls_failed_to_send = 0;
  int64_t calls_known_received = 0;
  int64_t calls_dropped = 0;  // summed over all drop tokens
  absl::Time last_report = absl::InfinitePast();

  // Adds one report received at `now`. InvalidArgument (and nothing added) when a
  // count is negative or larger than any client could make in one interval.
  absl::Status Add(const grpc::lb::v1::ClientStats& stats, absl::Time now);
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_CLIENT_STATS_H_
