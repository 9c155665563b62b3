// An xDS client's load report (LRS ClusterStats) read as the balancer reads
// load: the same LoadReport a grpclb client's ClientStats becomes. The counts
// come from the client, as uint64: they are summed without overflow
// (saturating at INT64_MAX, so that an absurd one is refused by ClientLoad,
// never wrapped into a small one).
//
// Threading: pure functions; thread-safe.
#ifndef JAWLB_XDS_LOAD_REPORTS_H_
#define JAWLB_XDS_LOAD_REPORTS_H_

#include <cstdint>

#include "balancer/client_load.h"
#include "envoy/config/endpoint/v3/load_report.pb.h"

namespace jawlb::xds {

// a + b, at most INT64_MAX (`a` is not negative).
int64_t SaturatingAdd(int64_t a, uint64_t b);

// One ClusterStats: calls started include the dropped ones (as grpclb's
// ClientStats counts them), finished ones the successful, failed and dropped;
// drops by category stand for tokens.
balancer::LoadReport ToLoadReport(const envoy::config::endpoint::v3::ClusterStats& stats);

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_LOAD_REPORTS_H_
