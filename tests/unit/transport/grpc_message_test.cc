#include "transport/grpc_message.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"

namespace jawlb::transport {
namespace {

using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(GrpcMessageTest, FramingPrefixesFlagAndBigEndianLength) {
  EXPECT_EQ(FrameMessage(""), std::string("\0\0\0\0\0", 5));
  const std::string framed = FrameMessage(std::string(258, 'x'));
  EXPECT_EQ(framed.substr(0, 5), std::string("\0\0\0\x01\x02", 5));
  EXPECT_EQ(framed.size(), 263u);
}

TEST(GrpcMessageTest, MessagesComeWholeWhateverThePieces) {
  const std::string stream = FrameMessage("alpha") + FrameMessage("") + FrameMessage("gamma!");
  // Every way of cutting the bytes in two gives the same messages.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    MessageReader reader(1024);
    std::vector<std::string> messages;
    ASSERT_THAT(reader.Add(absl::string_view(stream).substr(0, cut), messages), IsOk());
    ASSERT_THAT(reader.Add(absl::string_view(stream).substr(cut), messages), IsOk());
    EXPECT_THAT(messages, ElementsAre("alpha", "", "gamma!")) << "cut at " << cut;
    EXPECT_FALSE(reader.partial());
  }
  // Byte by byte, and a truncated end.
  MessageReader reader(1024);
  std::vector<std::string> messages;
  for (char c : FrameMessage("slow")) ASSERT_THAT(reader.Add({&c, 1}, messages), IsOk());
  EXPECT_THAT(messages, ElementsAre("slow"));
  ASSERT_THAT(reader.Add(FrameMessage("cut").substr(0, 6), messages), IsOk());
  EXPECT_TRUE(reader.partial());
  // The rest of "cut", then part of a prefix.
  ASSERT_THAT(reader.Add(std::string("ut\0\0", 4), messages), IsOk());
  EXPECT_THAT(messages, ElementsAre("slow", "cut"));
  EXPECT_TRUE(reader.partial());
}

TEST(GrpcMessageTest, OversizedAndCompressedMessagesAreRefusedBeforeTheyAreHeld) {
  MessageReader reader(10);
  std::vector<std::string> messages;
  // The prefix alone decides: nothing of the 11 bytes need arrive.
  EXPECT_THAT(reader.Add(FrameMessage(std::string(11, 'x')).substr(0, 5), messages),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("11 bytes; at most 10")));
  EXPECT_THAT(reader.Add("more", messages), StatusIs(absl::StatusCode::kInternal, HasSubstr("")));
  EXPECT_THAT(messages, IsEmpty());

  MessageReader compressed(10);
  std::string framed = FrameMessage("zip");
  framed[0] = 1;
  EXPECT_THAT(compressed.Add(framed, messages),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("compressed")));
  MessageReader odd(10);
  framed[0] = 7;
  EXPECT_THAT(odd.Add(framed, messages),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("flag 7")));
  EXPECT_THAT(messages, IsEmpty());
}

}  // namespace
}  // namespace jawlb::transport
