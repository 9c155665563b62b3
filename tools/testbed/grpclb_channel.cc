#include "testbed/grpclb_channel.h"

namespace jawlb::testbed {

std::shared_ptr<grpc::Channel> MakeGrpclbChannel(const std::string& dns_server,
                                                 const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_DNS_ENABLE_SRV_QUERIES, 1);
  args.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"grpclb":{}}]})");
  // Each channel its own subchannels, so channels in one process do not share
  // connections (and their results).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel("dns://" + dns_server + "/" + target,
                                   grpc::InsecureChannelCredentials(), args);
}

}  // namespace jawlb::testbed
