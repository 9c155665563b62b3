// The grpclb protocol's rules for a client's messages, with plain protos.
#include "grpclb/client_message.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"

namespace jawlb::grpclb {
namespace {

using grpc::lb::v1::LoadBalanceRequest;
using ::jawlb::testing::StatusIs;
using ::testing::HasSubstr;

LoadBalanceRequest Initial(const std::string& name) {
  LoadBalanceRequest request;
  request.mutable_initial_request()->set_name(name);
  return request;
}

LoadBalanceRequest Stats(int64_t started) {
  LoadBalanceRequest request;
  request.mutable_client_stats()->set_num_calls_started(started);
  return request;
}

TEST(ClientMessageTest, TheFirstMessageIsTheInitialRequestWithItsName) {
  absl::StatusOr<ClientMessage> first = ReadClientMessage(Initial("svc.ns:8000"), false);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->kind, ClientMessage::Kind::kInitialRequest);
  EXPECT_EQ(first->name, "svc.ns:8000");
  // An empty name is a name (single mode ignores it).
  EXPECT_TRUE(ReadClientMessage(Initial(""), false).ok());
}

TEST(ClientMessageTest, AnythingElseFirstSaysWhatCame) {
  EXPECT_THAT(ReadClientMessage(Stats(1), false),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must be an initial_request, got client_stats")));
  EXPECT_THAT(ReadClientMessage(LoadBalanceRequest(), false),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got an empty request")));
}

TEST(ClientMessageTest, NamesOver255BytesAreRefused) {
  EXPECT_TRUE(ReadClientMessage(Initial(std::string(kMaxNameBytes, 'a')), false).ok());
  EXPECT_THAT(ReadClientMessage(Initial(std::string(kMaxNameBytes + 1, 'a')), false),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("256 bytes; at most 255")));
}

TEST(ClientMessageTest, AfterItOnlyLoadReports) {
  absl::StatusOr<ClientMessage> report = ReadClientMessage(Stats(7), true);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->kind, ClientMessage::Kind::kLoadReport);
  EXPECT_EQ(report->report.calls_started, 7);
  absl::StatusOr<ClientMessage> empty = ReadClientMessage(LoadBalanceRequest(), true);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->kind, ClientMessage::Kind::kNothing);
  EXPECT_THAT(ReadClientMessage(Initial("again"), true),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sent twice")));
}

}  // namespace
}  // namespace jawlb::grpclb
