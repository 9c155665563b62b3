// What the units of a directory show operators: per-service metrics (the
// jawlb_service_* families) and /debug/state's "services". Values are read
// from the units with no directory lock held.
//
// Threading: thread-safe (reads thread-safe accessors of the units given).
#ifndef JAWLB_GRPCLB_SERVICE_UNIT_REPORT_H_
#define JAWLB_GRPCLB_SERVICE_UNIT_REPORT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "common/metrics.h"
#include "grpclb/service_unit.h"

namespace jawlb::grpclb {

// One unit as its directory sees it.
struct UnitUse {
  std::shared_ptr<const ServiceUnit> unit;
  long streams = 0;                                // holding it now
  absl::Time idle_since = absl::InfiniteFuture();  // when its last stream left
};

// Services named in per-service metrics; the rest are summed as "(other)".
inline constexpr size_t kMaxServiceLabels = 100;

// The jawlb_service_* families, one sample per unit (beyond
// kMaxServiceLabels, by streams, summed under "(other)").
void WriteServiceMetrics(const std::vector<UnitUse>& units, metrics::TextWriter& out);

// A JSON array: each unit's key, streams, idle time, drop share, backends
// sent and health.
std::string ServicesJson(const std::vector<UnitUse>& units);

// The backends sent, summed over the units (their newest lists).
size_t BackendsSent(const std::vector<UnitUse>& units);

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_SERVICE_UNIT_REPORT_H_
