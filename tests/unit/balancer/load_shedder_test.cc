#include "balancer/load_shedder.h"

#include <cmath>

#include "gtest/gtest.h"

namespace jawlb::balancer {
namespace {

double Fraction(const DropPlan& plan, size_t backends) {
  const double entries = static_cast<double>(plan.copies * backends + plan.drops);
  return static_cast<double>(plan.drops) / entries;
}

TEST(PlanDropsTest, EveryPercentWithinHalfAPointInShortLists) {
  for (size_t backends : {1u, 2u, 3u, 7u, 50u, 300u}) {
    for (int percent = 1; percent < 100; ++percent) {
      const DropPlan plan = PlanDrops(percent, backends);
      const size_t entries = plan.copies * backends + plan.drops;
      EXPECT_LE(entries, std::max<size_t>(1000, backends + backends * 99)) << backends;
      if (backends * 2 < 1000) {
        EXPECT_NEAR(Fraction(plan, backends), percent / 100.0, 0.005)
            << percent << "% of " << backends << ": " << plan.copies << " copies, " << plan.drops
            << " drops";
      }
    }
  }
  // Short where it can be: a quarter of 3 backends is 3 + 1 entries.
  EXPECT_EQ(PlanDrops(25, 3), (DropPlan{1, 1}));
  EXPECT_EQ(PlanDrops(50, 2), (DropPlan{1, 2}));
  EXPECT_EQ(PlanDrops(0, 5), (DropPlan{1, 0}));
  EXPECT_EQ(PlanDrops(100, 5), (DropPlan{0, 1}));
}

TEST(PlanDropsTest, LongListsStayWithinTheCap) {
  // 1% of 600 backends needs 6 drops in 606 entries: fine. 33% of 700 needs
  // 345 drops in 1,045 entries — over the cap, but one copy is the minimum.
  EXPECT_NEAR(Fraction(PlanDrops(1, 600), 600), 0.01, 0.005);
  const DropPlan big = PlanDrops(33, 700);
  EXPECT_EQ(big.copies, 1u);
  EXPECT_NEAR(Fraction(big, 700), 0.33, 0.005);
}

TEST(LoadShedderTest, ShedsTheExcessAndNothingBelowCapacity) {
  LoadShedder shedder(100);  // 100 calls/s per backend
  EXPECT_FALSE(shedder.Update(250, 3));  // under 300
  EXPECT_EQ(shedder.percent(), 0);
  EXPECT_TRUE(shedder.Update(400, 3));  // 300 of 400 can go through
  EXPECT_EQ(shedder.percent(), 25);
  EXPECT_DOUBLE_EQ(shedder.capacity(), 300);
  EXPECT_TRUE(shedder.Update(400, 2));  // a backend left: 200 of 400
  EXPECT_EQ(shedder.percent(), 50);
  EXPECT_TRUE(shedder.Update(100, 2));
  EXPECT_EQ(shedder.percent(), 0);
}

TEST(LoadShedderTest, SmallWobblesChangeNothing) {
  LoadShedder shedder(100);
  ASSERT_TRUE(shedder.Update(400, 3));  // 25%
  EXPECT_FALSE(shedder.Update(403, 3));  // 25.6%
  EXPECT_FALSE(shedder.Update(397, 3));  // 24.4%
  EXPECT_TRUE(shedder.Update(410, 3));   // 26.8%
  EXPECT_EQ(shedder.percent(), 27);
  EXPECT_TRUE(shedder.Update(303, 3));  // 0.99%
  EXPECT_EQ(shedder.percent(), 1);
  EXPECT_FALSE(shedder.Update(301, 3));  // 0.33%: not yet off
  EXPECT_TRUE(shedder.Update(300, 3));
  EXPECT_EQ(shedder.percent(), 0);
}

TEST(LoadShedderTest, NeverDropsEverythingAndOffMeansOff) {
  LoadShedder shedder(1);
  shedder.Update(1e9, 2);
  EXPECT_EQ(shedder.percent(), 99);
  LoadShedder off(0);
  EXPECT_FALSE(off.Update(1e9, 2));
  EXPECT_EQ(off.percent(), 0);
  LoadShedder none(10);
  EXPECT_FALSE(none.Update(1e9, 0));  // no backends: the no-backends drop entry says it all
  EXPECT_EQ(none.percent(), 0);
}

}  // namespace
}  // namespace jawlb::balancer
