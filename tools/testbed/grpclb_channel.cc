#include "testbed/grpclb_channel.h"

#include <utility>

#include "absl/strings/str_cat.h"

#include "testbed/subprocess.h"

namespace jawlb::testbed {

std::shared_ptr<grpc::Channel> MakeGrpclbChannel(
    const std::string& dns_server, const std::string& target,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_DNS_ENABLE_SRV_QUERIES, 1);
  args.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"grpclb":{}}]})");
  // Each channel its own subchannels, so channels in one process do not share
  // connections (and their results).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(
      "dns://" + dns_server + "/" + target,
      credentials != nullptr ? std::move(credentials) : grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<EchoClient> ConnectEchoClient(const std::string& dir, int jawlb_port) {
  DnsServer::Records records;
  records.a = {{"jawlb.test", "127.0.0.1"}, {"echo.test", "127.0.0.1"}};
  records.grpclb = {{"echo.test", "jawlb.test", jawlb_port}};
  absl::StatusOr<std::unique_ptr<DnsServer>> dns = DnsServer::Start(records, dir);
  if (!dns.ok()) return dns.status();
  absl::StatusOr<int> port = PickFreePort("127.0.0.1");
  if (!port.ok()) return port.status();
  EchoClient client;
  client.dns = *std::move(dns);
  client.target = absl::StrCat("echo.test:", *port);
  client.channel = MakeGrpclbChannel(client.dns->address(), client.target);
  return client;
}

}  // namespace jawlb::testbed
