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

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

#include "testbed/dns_server.h"

namespace jawlb::testbed {

// `dns_server` is "127.0.0.1:5353"; `target` is "name:port" as a client dials it.
// `credentials`: the channel's (to the balancer and the backends alike);
// null: plaintext.
std::shared_ptr<grpc::Channel> MakeGrpclbChannel(
    const std::string& dns_server, const std::string& target,
    std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr);

// What a client of the service echo.test has in a cluster: a DNS server (in
// `dir`) whose SRV record _grpclb._tcp.echo.test names jawlb at 127.0.0.1:
// `jawlb_port`, and a grpclb channel to echo.test at a port where nothing
// listens (so falling back to the A record fails rather than passing quietly).
struct EchoClient {
  std::unique_ptr<DnsServer> dns;
  std::string target;  // what `channel` dials; more channels: MakeGrpclbChannel
  std::shared_ptr<grpc::Channel> channel;
};
absl::StatusOr<EchoClient> ConnectEchoClient(const std::string& dir, int jawlb_port);

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_GRPCLB_CHANNEL_H_
