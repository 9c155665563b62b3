// Process metrics in the names every Prometheus client library uses
// (process_cpu_seconds_total, process_resident_memory_bytes, ...), read from
// /proc/self at scrape time. Linux only.
//
// Threading: thread-safe (reads /proc, keeps nothing).
#ifndef JAWLB_ADMIN_PROCESS_METRICS_H_
#define JAWLB_ADMIN_PROCESS_METRICS_H_

#include "common/metrics.h"

namespace jawlb::admin {

void WriteProcessMetrics(metrics::TextWriter& out);

}  // namespace jawlb::admin

#endif  // JAWLB_ADMIN_PROCESS_METRICS_H_
