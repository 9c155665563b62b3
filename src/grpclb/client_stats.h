// ToLoadReport: a grpclb ClientStats message as the balancer reads it
// (balancer::LoadReport). The only place that knows ClientStats' fields.
//
// Threading: pure function; thread-safe.
#ifndef JAWLB_GRPCLB_CLIENT_STATS_H_
#define JAWLB_GRPCLB_CLIENT_STATS_H_

#include "grpc/lb/v1/load_balancer.pb.h"

#include "balancer/client_load.h"

namespace jawlb::grpclb {

balancer::LoadReport ToLoadReport(const grpc::lb::v1::ClientStats& stats);

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_CLIENT_STATS_H_
