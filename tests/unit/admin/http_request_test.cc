#include "admin/http_request.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace jawlb::admin {
namespace {

using State = RequestHead::State;

TEST(ReadRequestHeadTest, AGetIsReadWithoutItsQuery) {
  const RequestHead head =
      ReadRequestHead("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", 8192);
  ASSERT_EQ(head.state, State::kComplete);
  EXPECT_EQ(head.request.method, "GET");
  EXPECT_EQ(head.request.path, "/metrics");
}

TEST(ReadRequestHeadTest, WaitsForTheBlankLine) {
  EXPECT_EQ(ReadRequestHead("", 8192).state, State::kIncomplete);
  EXPECT_EQ(ReadRequestHead("HEAD /readyz HTTP/1.0\r\nHost: a\r\n", 8192).state,
            State::kIncomplete);
  EXPECT_EQ(ReadRequestHead("HEAD /readyz HTTP/1.0\r\n\r\n", 8192).state, State::kComplete);
}

TEST(ReadRequestHeadTest, RefusesWhatNoHandlerTakes) {
  struct Case {
    std::string in;
    int status;
    std::string reason;
  };
  for (const Case& c : std::vector<Case>{
           {"GARBAGE\r\n\r\n", 400, "malformed"},
           {"GET  HTTP/1.1\r\n\r\n", 400, "malformed"},
           {"GET / HTTP/2\r\n\r\n", 400, "malformed"},
           {"\r\n\r\n", 400, "malformed"},
           {"POST / HTTP/1.1\r\n\r\n", 405, "method"},
           {"GET / HTTP/1.1\r\ncontent-LENGTH: 5\r\n\r\n", 413, "too_large"},
           {"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 413, "too_large"},
           {"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 413, "too_large"},
       }) {
    const RequestHead head = ReadRequestHead(c.in, 8192);
    EXPECT_EQ(head.state, State::kRefused) << c.in;
    EXPECT_EQ(head.status, c.status) << c.in;
    EXPECT_EQ(head.reason, c.reason) << c.in;
    EXPECT_FALSE(head.message.empty());
  }
}

TEST(ReadRequestHeadTest, AHeadPastTheLimitIsRefusedCompleteOrNot) {
  const std::string big = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a');
  EXPECT_EQ(ReadRequestHead(big, 100).state, State::kRefused);
  EXPECT_EQ(ReadRequestHead(big, 100).status, 431);
  EXPECT_EQ(ReadRequestHead(big + "\r\n\r\n", 100).status, 431);
  EXPECT_EQ(ReadRequestHead(big + "\r\n\r\n", 200).state, State::kComplete);
  EXPECT_EQ(ReadRequestHead(big + "\r\n\r\n", 200).request.path, "/");
}

}  // namespace
}  // namespace jawlb::admin
