// jawlb's HTTP/2 server driven by Debian's nghttp2-client tools, which know
// nothing of gRPC: h2load opens thousands of streams over hundreds of
// connections (grpc.health.v1.Health/Check, each a real gRPC call), and
// nghttp shows the drain's two-step GOAWAY as a client sees it, frame by
// frame. On the gRPC C++ transport these say nothing new: skipped there.
#include <fstream>
#include <string>
#include <vector>

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/jawlb_process.h"
#include "testbed/subprocess.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(120);

// `bytes` written to a fresh file in `dir`; its path.
std::string WriteFile(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// The number after `label` in h2load's summary ("requests: 20000 total,
// 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored, ...").
int64_t Count(const std::string& output, absl::string_view label) {
  const size_t at = output.find(std::string(label));
  if (at == std::string::npos) return -1;
  absl::string_view before(output.data(), at);
  before = absl::StripTrailingAsciiWhitespace(before);
  const size_t start = before.find_last_of(" ,:");
  int64_t value = -1;
  if (!absl::SimpleAtoi(before.substr(start + 1), &value)) return -1;
  return value;
}

TEST(H2ToolsTest, H2loadsThousandsOfStreamsOverHundredsOfConnectionsAllSucceed) {
  if (!OnH2Transport()) GTEST_SKIP() << "a test of jawlb's own HTTP/2 server";
  const std::string dir = MakeTempDir("h2_tools_test.");
  auto jawlb =
      JawlbProcess::Start(JAWLB_BINARY, {"JAWLB_ENDPOINTS=127.0.0.2:1"}, dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  // A HealthCheckRequest{} framed: the 5-byte prefix of an empty message.
  const std::string body = WriteFile(dir, "check.bin", std::string(5, '\0'));
  auto h2load = Subprocess::Spawn(
      {"/usr/bin/h2load", "-n", "20000", "-c", "400", "-m", "10", "-d", body, "-H",
       "content-type: application/grpc", "-H", "te: trailers",
       absl::StrCat("http://127.0.0.1:", (*jawlb)->port(), "/grpc.health.v1.Health/Check")},
      {}, dir + "/h2load.log");
  ASSERT_THAT(h2load, IsOk());
  ASSERT_TRUE(ExitedWith((*h2load)->Stop(0, kWait), 0)) << (*h2load)->Output();
  const std::string output = (*h2load)->Output();
  EXPECT_EQ(Count(output, "succeeded"), 20000) << output;
  EXPECT_EQ(Count(output, "errored"), 0) << output;
  EXPECT_EQ(Count(output, "failed"), 0) << output;
  EXPECT_THAT(output, HasSubstr("400 total"));  // clients (connections)
  // Every call was a gRPC call that succeeded: its trailers said so.
  EXPECT_THAT(output, HasSubstr("status codes: 20000 2xx"));
  EXPECT_EQ((*jawlb)->process().Poll(), std::nullopt) << "jawlb is still there";
}

TEST(H2ToolsTest, NghttpSeesTheDrainsTwoGoawaysAndTheStreamsStatus) {
  if (!OnH2Transport()) GTEST_SKIP() << "a test of jawlb's own HTTP/2 server";
  const std::string dir = MakeTempDir("h2_tools_test.");
  auto jawlb = JawlbProcess::Start(
      JAWLB_BINARY,
      {"JAWLB_ENDPOINTS=127.0.0.2:1", "JAWLB_DRAINDELAY=0s", "JAWLB_SHUTDOWNGRACEPERIOD=3s"},
      dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  // Two calls on one connection, both with the same bytes: to BalanceLoad a
  // LoadBalanceRequest{initial_request{name: "x"}}; to a health Watch a
  // HealthCheckRequest of a service no one set (a Watch outlives the drain:
  // it is still open when the final GOAWAY comes).
  const std::string body =
      WriteFile(dir, "request.bin", std::string("\0\0\0\0\x05\x0a\x03\x0a\x01x", 10));
  const std::string base = absl::StrCat("http://127.0.0.1:", (*jawlb)->port());
  auto nghttp = Subprocess::Spawn(
      {"/usr/bin/nghttp", "-v", "-d", body, "-H", "content-type: application/grpc", "-H",
       "te: trailers", base + "/grpc.lb.v1.LoadBalancer/BalanceLoad",
       base + "/grpc.health.v1.Health/Watch"},
      {}, dir + "/nghttp.log");
  ASSERT_THAT(nghttp, IsOk());
  // BalanceLoad's initial response and list, and the Watch's first status.
  ASSERT_THAT((*nghttp)->WaitForLine("recv DATA frame", kWait, 3), IsOk()) << (*nghttp)->Output();
  ASSERT_EQ(kill((*jawlb)->process().pid(), SIGTERM), 0);
  (void)(*nghttp)->Stop(0, kWait);
  EXPECT_TRUE(ExitedWith((*jawlb)->process().Stop(0, kWait), 0));
  const std::string output = (*nghttp)->Output();
  // gRPC's two steps, both NO_ERROR: "no new streams soon" (the largest
  // stream id), then the last stream taken (the Watch, 15).
  std::vector<std::string> goaways;
  std::vector<absl::string_view> lines = absl::StrSplit(output, '\n');
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (absl::StrContains(lines[i], "recv GOAWAY")) goaways.emplace_back(lines[i + 1]);
  }
  ASSERT_EQ(goaways.size(), 2u) << output;
  EXPECT_THAT(goaways[0], HasSubstr("last_stream_id=2147483647"));
  EXPECT_THAT(goaways[0], HasSubstr("NO_ERROR"));
  EXPECT_THAT(goaways[1], HasSubstr("last_stream_id=15"));
  EXPECT_THAT(goaways[1], HasSubstr("NO_ERROR"));
  // The BalanceLoad stream ended with UNAVAILABLE, saying why.
  EXPECT_THAT(output, HasSubstr("recv (stream_id=13) grpc-status: 14"));
  EXPECT_THAT(output, HasSubstr("shutting down"));
}

}  // namespace
}  // namespace jawlb::testbed
