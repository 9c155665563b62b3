#include "app/logging.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jawlb::app {
namespace {

using ::testing::EndsWith;

TEST(LoggingTest, ControlCharactersCannotForgeALine) {
  // A client's name with a newline and what looks like jawlb's own line.
  EXPECT_EQ(EscapeLogMessage("svc\n[2026-12-07 10:00:00.000] [error] forged"),
            "svc\\n[2026-12-07 10:00:00.000] [error] forged");
  EXPECT_EQ(EscapeLogMessage("a\rb\tc\x1b[31md\x7f"), "a\\rb\\tc\\x1b[31md\\x7f");
  EXPECT_EQ(EscapeLogMessage(std::string("nul\0byte", 8)), "nul\\x00byte");
}

TEST(LoggingTest, Utf8StaysAndOtherBytesAreEscaped) {
  EXPECT_EQ(EscapeLogMessage("grüße → 服务 🙂"), "grüße → 服务 🙂");
  // A lone continuation byte, a truncated sequence, an overlong '/', a surrogate.
  EXPECT_EQ(EscapeLogMessage("\x80 \xe2\x82 \xc0\xaf \xed\xa0\x80"),
            "\\x80 \\xe2\\x82 \\xc0\\xaf \\xed\\xa0\\x80");
}

TEST(LoggingTest, LongMessagesAreCut) {
  const std::string escaped = EscapeLogMessage(std::string(10000, 'x'));
  EXPECT_EQ(escaped.substr(0, 4096), std::string(4096, 'x'));
  EXPECT_THAT(escaped, EndsWith(" ...(5904 bytes more)"));
}

}  // namespace
}  // namespace jawlb::app
