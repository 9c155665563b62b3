// MakeGrpclbChannel: a client channel that finds its balancer the way grpclb
// clients in a Kubernetes cluster do: gRPC C-core's c-ares DNS resolver asks
// `dns_server` for the SRV record _grpclb._tcp.<name>, and the service config
// selects the grpclb policy (C-core picks grpclb only through it).
//
// Threading: a free function; the channel is thread-safe.
#ifndef JAWLB_TOOLS_TESTBED_GRPCLB_CHANNEL_H_
#define JAWLB_TOOLS_TESTBED_GRPCLB_CHANNEL_H_

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"

namespace jawlb::testbed {

// `dns_server` is "127.0.0.1:5353"; `target` is "name:port" as a client dials it.
std::shared_ptr<grpc::Channel> MakeGrpclbChannel(const std::string& dns_server,
                                                 const std::string& target);

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_GRPCLB_CHANNEL_H_
