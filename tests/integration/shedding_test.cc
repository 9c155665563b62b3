// JAWLB_MAXRPSPERBACKEND with a real grpclb client (gRPC C++'s grpclb policy
// through DNS SRV): when the calls it reports exceed what the backends take,
// its lists carry drop entries, the client fails that share of its RPCs with
// UNAVAILABLE without sending them, reports each drop back under jawlb's
// token, and shedding stops when the load does.
#include <cmath>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "jawlb/testing/echo.grpc.pb.h"
#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;

constexpr absl::Duration kWait = absl::Seconds(90);

// The value of the sample `name` (with its labels, as written) in /metrics.
double Metric(const std::string& metrics, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, name + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(name.size() + 1), &value)) return value;
  }
  return -1;
}

class Load {
 public:
  explicit Load(std::shared_ptr<grpc::Channel> channel) : stub_(std::move(channel)) {}

  // `count` calls, one every `every`; counts what came back.
  void Run(int count, absl::Duration every, int* ok, int* dropped) {
    const absl::Time start = absl::Now();
    for (int i = 0; i < count; ++i) {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
      google::protobuf::StringValue reply;
      const grpc::Status status = stub_.Whoami(&context, google::protobuf::Empty(), &reply);
      if (status.ok()) {
        ++*ok;
      } else {
        ASSERT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
        ++*dropped;
        ++dropped_total_;
      }
      // Pacing (a load generator's rate, not a wait for a condition).
      std::this_thread::sleep_until(absl::ToChronoTime(start + every * (i + 1)));
    }
  }
  int dropped_total() const { return dropped_total_; }

 private:
  jawlb::testing::Echo::Stub stub_;
  int dropped_total_ = 0;
};

TEST(SheddingTest, DropEntriesShedTheExcessAndClientsReportTheDropsBack) {
  const std::string dir = MakeTempDir("shedding_test.");
  std::vector<std::unique_ptr<EchoBackend>> backends;
  std::string endpoints;
  for (const char* name : {"alpha", "beta"}) {
    auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + backends.size()));
    ASSERT_THAT(backend, IsOk());
    absl::StrAppend(&endpoints, endpoints.empty() ? "" : ",", (*backend)->address());
    backends.push_back(*std::move(backend));
  }
  // Two backends taking 10 calls/s each; clients report every second, and
  // their rates are smoothed over 2 s (so the test need not wait 30 s).
  auto jawlb = JawlbProcess::Start(JAWLB_BINARY,
                                   {"JAWLB_ENDPOINTS=" + endpoints, "JAWLB_MAXRPSPERBACKEND=10",
                                    "JAWLB_CLIENTSTATSINTERVAL=1s", "JAWLB_LOADSMOOTHING=2s"},
                                   dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  absl::StatusOr<EchoClient> client = ConnectEchoClient(dir, (*jawlb)->port());
  ASSERT_THAT(client, IsOk());
  std::shared_ptr<grpc::Channel> channel = client->channel;
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta"}, true, 20, kWait), IsOk());
  auto metrics = [&] {
    auto got = HttpGet(absl::StrCat("http://127.0.0.1:", (*jawlb)->admin_port(), "/metrics"));
    EXPECT_THAT(got, IsOk());
    return got.ok() ? got->second : std::string();
  };
  EXPECT_EQ(Metric(metrics(), "jawlb_shed_drop_ratio"), 0);

  // About 200 calls/s against a capacity of 20: jawlb sheds most of them.
  Load load(channel);
  int ok = 0;
  int dropped = 0;
  const absl::Time deadline = absl::Now() + kWait;
  while (Metric(metrics(), "jawlb_shed_drop_ratio") <= 0 && absl::Now() < deadline) {
    load.Run(100, absl::Milliseconds(5), &ok, &dropped);
  }
  ASSERT_GT(Metric(metrics(), "jawlb_shed_drop_ratio"), 0) << (*jawlb)->process().Output();

  // The client drops the share asked of it: measured over windows in which
  // the asked share stayed put (it follows the measured rate).
  bool measured = false;
  for (int window = 0; window < 20 && !measured; ++window) {
    const double asked = Metric(metrics(), "jawlb_shed_drop_ratio");
    int window_ok = 0;
    int window_dropped = 0;
    load.Run(400, absl::Milliseconds(5), &window_ok, &window_dropped);
    const double asked_after = Metric(metrics(), "jawlb_shed_drop_ratio");
    if (std::abs(asked_after - asked) > 0.02) continue;
    const double share = window_dropped / 400.0;
    EXPECT_NEAR(share, (asked + asked_after) / 2, 0.05)
        << window_ok << " ok, " << window_dropped << " dropped";
    // jawlb sees the same in the client's reports (smoothed over 30 s, so it
    // trails the share shedding began with: loosely, once it caught up).
    double reported = Metric(metrics(), "jawlb_shed_reported_drop_ratio");
    for (const absl::Time until = absl::Now() + kWait;
         std::abs(reported - asked) > 0.1 && absl::Now() < until;) {
      load.Run(100, absl::Milliseconds(5), &ok, &dropped);
      reported = Metric(metrics(), "jawlb_shed_reported_drop_ratio");
    }
    EXPECT_NEAR(reported, asked, 0.1);
    std::printf("asked to drop %.2f, the client dropped %.3f\n", asked, share);
    measured = true;
  }
  EXPECT_TRUE(measured) << "the drop share never held still for 2 s";

  // Every drop comes back in the client's load reports, under jawlb's token.
  const std::string reported =
      R"(jawlb_client_calls_dropped_by_token_total{token="jawlb-overload"})";
  const absl::Time reports_deadline = absl::Now() + kWait;
  while (Metric(metrics(), reported) != load.dropped_total() && absl::Now() < reports_deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(Metric(metrics(), reported), load.dropped_total());
  EXPECT_GT(load.dropped_total(), 100);
  // Its reports arrive and are counted (one a second: a few more soon, however
  // fast the test got here): every call it made (drops included) is in the
  // calls-started total.
  std::string all = metrics();
  for (const absl::Time until = absl::Now() + kWait;
       Metric(all, "jawlb_client_stats_reports_total") <= 5 && absl::Now() < until;) {
    absl::SleepFor(absl::Milliseconds(100));
    all = metrics();
  }
  EXPECT_GT(Metric(all, "jawlb_client_stats_reports_total"), 5);
  EXPECT_GE(Metric(all, "jawlb_client_calls_started_total"), ok + load.dropped_total());

  // The load stops: once the client's next report shows it, no more drops.
  const absl::Time calm_deadline = absl::Now() + kWait;
  while (Metric(metrics(), "jawlb_shed_drop_ratio") > 0 && absl::Now() < calm_deadline) {
    CallMany(channel, 2);
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(Metric(metrics(), "jawlb_shed_drop_ratio"), 0);
  EXPECT_THAT(WaitForSpread(channel, {"alpha", "beta"}, true, 20, kWait), IsOk());
  channel.reset();
  EXPECT_TRUE(ExitedWith((*jawlb)->process().Stop(SIGTERM, absl::Seconds(60)), 0));
}

}  // namespace
}  // namespace jawlb::testbed
