#include "xds/discovery_messages.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "envoy/service/discovery/v3/discovery.pb.h"
#include "tests/common/status_matchers.h"
#include "transport/grpc_message.h"
#include "xds/resources.h"

namespace jawlb::xds {
namespace {

using envoy::service::discovery::v3::DiscoveryRequest;
using envoy::service::discovery::v3::DiscoveryResponse;
using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Bytes(const DiscoveryRequest& request) { return request.SerializeAsString(); }

// A written message's bytes, whole: its prefix checked and taken off.
std::string Whole(const transport::WireMessage& message) {
  std::string bytes;
  for (const transport::SharedBytes& piece : message.pieces()) bytes += *piece;
  EXPECT_GE(bytes.size(), transport::kMessagePrefixBytes);
  EXPECT_EQ(bytes.substr(0, transport::kMessagePrefixBytes),
            transport::FrameMessage(bytes.substr(transport::kMessagePrefixBytes))
                .substr(0, transport::kMessagePrefixBytes));
  EXPECT_EQ(message.size(), bytes.size());
  return bytes.substr(transport::kMessagePrefixBytes);
}

DiscoveryRequest Listeners(std::vector<std::string> names) {
  DiscoveryRequest request;
  request.set_type_url(kListenerType);
  for (const std::string& name : names) request.add_resource_names(name);
  return request;
}

TEST(DiscoveryMessagesTest, ARequestBecomesTheCursorsRequestAndTheNode) {
  DiscoveryRequest request = Listeners({"echo:50051", "other"});
  request.set_version_info("v1");
  request.set_response_nonce("n1");
  request.mutable_node()->set_id("pod-7");
  request.mutable_node()->mutable_locality()->set_zone("eu-west-1a");
  request.mutable_node()->set_user_agent_name("gRPC C-core");
  request.mutable_node()->set_user_agent_version("1.51.1");
  std::string bytes = Bytes(request);
  absl::StatusOr<DiscoveryRequestRead> read = ReadDiscoveryRequest(bytes);
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->request.type, AdsCursor::Type::kListener);
  EXPECT_THAT(read->request.names, ElementsAre("echo:50051", "other"));
  EXPECT_EQ(read->request.version, "v1");
  EXPECT_EQ(read->request.nonce, "n1");
  EXPECT_TRUE(read->request.error.ok());
  ASSERT_TRUE(read->node.has_value());
  EXPECT_EQ(read->node->id, "pod-7");
  EXPECT_EQ(read->node->locality, "/eu-west-1a/");
  EXPECT_EQ(read->node->user_agent, "gRPC C-core 1.51.1");

  // A NACK carries its error; one without a code is still an error.
  request.mutable_error_detail()->set_code(3);
  request.mutable_error_detail()->set_message("no");
  bytes = Bytes(request);
  read = ReadDiscoveryRequest(bytes);
  ASSERT_THAT(read, IsOk());
  EXPECT_EQ(read->request.error.code(), absl::StatusCode::kInvalidArgument);
  request.mutable_error_detail()->set_code(0);
  bytes = Bytes(request);
  read = ReadDiscoveryRequest(bytes);
  ASSERT_THAT(read, IsOk());
  EXPECT_FALSE(read->request.error.ok());
  // Later requests carry no node: none is read.
  request.clear_node();
  bytes = Bytes(request);
  read = ReadDiscoveryRequest(bytes);
  ASSERT_THAT(read, IsOk());
  EXPECT_FALSE(read->node.has_value());
}

TEST(DiscoveryMessagesTest, TheNodeIsCutAtACharactersStart) {
  DiscoveryRequest request = Listeners({"x"});
  // 127 ASCII bytes, then a two-byte character straddling the limit.
  request.mutable_node()->set_id(std::string(kMaxNodeFieldBytes - 1, 'a') + "\xc3\xa9tail");
  std::string bytes = Bytes(request);
  absl::StatusOr<DiscoveryRequestRead> read = ReadDiscoveryRequest(bytes);
  ASSERT_THAT(read, IsOk());
  ASSERT_TRUE(read->node.has_value());
  EXPECT_EQ(read->node->id, std::string(kMaxNodeFieldBytes - 1, 'a'));
  EXPECT_EQ(read->node->locality, "");
  EXPECT_EQ(read->node->user_agent, "");
}

TEST(DiscoveryMessagesTest, WhatIsNotTakenSaysWhy) {
  EXPECT_THAT(ReadDiscoveryRequest("\xff\xff\xff"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("malformed")));

  DiscoveryRequest request = Listeners({"x"});
  request.set_type_url("type.googleapis.com/envoy.config.listener.v2.Listener");
  std::string bytes = Bytes(request);
  EXPECT_THAT(ReadDiscoveryRequest(bytes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not served here")));

  bytes = Bytes(Listeners(std::vector<std::string>(kMaxNamesPerRequest + 1, "n")));
  EXPECT_THAT(ReadDiscoveryRequest(bytes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1001 resource names")));
  bytes = Bytes(Listeners({std::string(256, 'l')}));
  EXPECT_THAT(ReadDiscoveryRequest(bytes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("256 bytes; at most 255")));
  DiscoveryRequest clusters;
  clusters.set_type_url(kClusterType);
  clusters.add_resource_names(std::string(512, 'c'));  // other names: up to 512
  bytes = Bytes(clusters);
  EXPECT_THAT(ReadDiscoveryRequest(bytes), IsOk());
}

TEST(DiscoveryMessagesTest, AResponseParsesWithItsResourcesWhole) {
  const auto first = std::make_shared<const std::string>(RouteResource("a", "a"));
  const auto second = std::make_shared<const std::string>(RouteResource("b", "b"));
  transport::WireMessage written =
      WriteDiscoveryResponse(AdsCursor::Type::kRoute, "p-7", "n-9", {first, second});
  // The shared resources are pieces of their own, not copies.
  ASSERT_EQ(written.pieces().size(), 4u);
  EXPECT_EQ(written.pieces()[1], first);
  EXPECT_EQ(written.pieces()[3], second);
  DiscoveryResponse response;
  ASSERT_TRUE(response.ParseFromString(Whole(written)));
  EXPECT_EQ(response.type_url(), kRouteType);
  EXPECT_EQ(response.version_info(), "p-7");
  EXPECT_EQ(response.nonce(), "n-9");
  ASSERT_EQ(response.resources_size(), 2);
  EXPECT_EQ(response.resources(0).SerializeAsString(), *first);
  EXPECT_EQ(response.resources(1).SerializeAsString(), *second);
  // None at all: still a response (a client's every name deleted).
  written = WriteDiscoveryResponse(AdsCursor::Type::kCluster, "p-8", "n-10", {});
  ASSERT_EQ(written.pieces().size(), 1u);
  ASSERT_TRUE(response.ParseFromString(Whole(written)));
  EXPECT_EQ(response.resources_size(), 0);
  EXPECT_EQ(response.type_url(), kClusterType);
}

}  // namespace
}  // namespace jawlb::xds
