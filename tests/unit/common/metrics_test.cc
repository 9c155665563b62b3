#include "common/metrics.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/heartbeat.h"

namespace jawlb::metrics {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(FormatValueTest, WritesWhatTheExpositionFormatReads) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(12345678901.0), "12345678901");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
  EXPECT_EQ(FormatValue(0.25), "0.25");
  EXPECT_EQ(FormatValue(1e300), "1e+300");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(TextWriterTest, FamiliesHaveHelpAndTypeAndEscapedLabels) {
  TextWriter out;
  out.Counter("a_total", "Counts \\ things\nover lines.", 3);
  out.Header("b", "gauge", "B.");
  out.Sample("b", {{"path", "C:\\x \"q\"\nz"}, {"k", "v"}}, 1.5);
  EXPECT_EQ(out.text(),
            "# HELP a_total Counts \\\\ things\\nover lines.\n"
            "# TYPE a_total counter\n"
            "a_total 3\n"
            "# HELP b B.\n"
            "# TYPE b gauge\n"
            "b{path=\"C:\\\\x \\\"q\\\"\\nz\",k=\"v\"} 1.5\n");
}

TEST(HistogramTest, BucketsAreCumulativeAndEndWithInf) {
  Histogram histogram({0.1, 1});
  for (double value : {0.05, 0.1, 0.5, 2.0, 3.0}) histogram.Observe(value);
  const Histogram::Reading reading = histogram.Read();
  EXPECT_THAT(reading.cumulative, ElementsAre(2, 3, 5));  // le is inclusive
  EXPECT_EQ(reading.count, 5);
  EXPECT_DOUBLE_EQ(reading.sum, 5.65);

  TextWriter out;
  out.Histogram("h_seconds", "H.", histogram);
  EXPECT_EQ(out.text(),
            "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"
            "h_seconds_bucket{le=\"0.1\"} 2\nh_seconds_bucket{le=\"1\"} 3\n"
            "h_seconds_bucket{le=\"+Inf\"} 5\nh_seconds_sum 5.65\nh_seconds_count 5\n");
}

TEST(CounterMapTest, CountsPerLabelSetAcrossThreads) {
  CounterMap map({"verb", "code"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&map, t] {
      for (int i = 0; i < 1000; ++i) map.Add({"GET", t % 2 == 0 ? "200" : "500"});
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(map.Read(), ElementsAre(Pair(ElementsAre("GET", "200"), 2000),
                                      Pair(ElementsAre("GET", "500"), 2000)));
  TextWriter out;
  out.Counters("r_total", "R.", map);
  EXPECT_THAT(out.text(), HasSubstr("r_total{verb=\"GET\",code=\"500\"} 2000\n"));
}

TEST(HeartbeatTest, StuckOnlyAfterTheToleranceOutsideAnnouncedWaits) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  Heartbeat heartbeat(absl::Seconds(10), t0);
  EXPECT_FALSE(heartbeat.Stuck(t0 + absl::Seconds(10)));
  EXPECT_TRUE(heartbeat.Stuck(t0 + absl::Seconds(11)));
  heartbeat.Beat(t0 + absl::Seconds(11));
  EXPECT_FALSE(heartbeat.Stuck(t0 + absl::Seconds(20)));
  // A backoff of a minute is not a stuck thread; overstaying it is.
  heartbeat.ExpectSilence(absl::Minutes(1), t0 + absl::Seconds(20));
  EXPECT_FALSE(heartbeat.Stuck(t0 + absl::Seconds(85)));
  EXPECT_TRUE(heartbeat.Stuck(t0 + absl::Seconds(91)));
  EXPECT_EQ(heartbeat.last_beat(), t0 + absl::Seconds(20));
}

}  // namespace
}  // namespace jawlb::metrics
