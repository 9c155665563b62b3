#include "balancer/subset_planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/stable_hash.h"

namespace jawlb::balancer {
namespace {

using discovery::Backend;
using ::testing::Each;
using ::testing::SizeIs;

const absl::Time kNow = absl::FromUnixSeconds(1000);

std::vector<Backend> Backends(int n, int first = 0) {
  std::vector<Backend> backends;
  for (int i = first; i < first + n; ++i) {
    backends.push_back(*discovery::MakeBackend(absl::StrCat("10.0.", i / 256, ".", i % 256), 8080));
  }
  return backends;
}

std::string Key(uint64_t id) { return absl::StrCat("ipv4:10.9.0.1:", 40000 + id, "/svc"); }

// The most clients a backend has, less the fewest.
size_t ConnectionSpread(const SubsetPlanner& planner) {
  size_t low = SIZE_MAX;
  size_t high = 0;
  for (const auto& [backend, load] : planner.Loads()) {
    low = std::min(low, load);
    high = std::max(high, load);
  }
  return high - low;
}

// Every backend within one of every other, every subset of k distinct current
// backends.
void ExpectBalanced(const SubsetPlanner& planner, size_t k, size_t n,
                    const std::vector<uint64_t>& ids) {
  const std::map<Backend, size_t> loads = planner.Loads();
  ASSERT_EQ(loads.size(), n);
  size_t low = SIZE_MAX;
  size_t high = 0;
  for (const auto& [backend, load] : loads) {
    low = std::min(low, load);
    high = std::max(high, load);
  }
  EXPECT_LE(high - low, 1u) << "loads from " << low << " to " << high;
  for (uint64_t id : ids) {
    const std::vector<Backend> subset = planner.SubsetOf(id);
    EXPECT_THAT(subset, SizeIs(std::min(k, n))) << "client " << id;
    for (const Backend& backend : subset) EXPECT_TRUE(loads.contains(backend));
  }
}

TEST(SubsetPlannerTest, EveryClientGetsKAndLoadsStayWithinOne) {
  SubsetPlanner planner(3);
  planner.SetBackends(Backends(10));
  std::vector<uint64_t> ids;
  for (uint64_t id = 0; id < 101; ++id) {
    planner.AddClient(id, Key(id), kNow);
    ids.push_back(id);
    ExpectBalanced(planner, 3, 10, ids);
  }
}

TEST(SubsetPlannerTest, BalanceSurvivesRandomChurnOfClientsAndBackends) {
  SubsetPlanner planner(4);
  std::mt19937 random(7);
  int n = 12;
  int first = 0;
  planner.SetBackends(Backends(n));
  std::vector<uint64_t> ids;
  uint64_t next = 0;
  for (int step = 0; step < 2000; ++step) {
    const int what = std::uniform_int_distribution<int>(0, 9)(random);
    if (what < 5 || ids.empty()) {
      planner.AddClient(next, Key(next), kNow);
      ids.push_back(next++);
    } else if (what < 9) {
      const size_t at = std::uniform_int_distribution<size_t>(0, ids.size() - 1)(random);
      planner.RemoveClient(ids[at], kNow);
      ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(at));
    } else {  // a rolling change: one backend replaced, or the count moving by one
      const int change = std::uniform_int_distribution<int>(0, 2)(random);
      if (change == 0) ++first;
      if (change == 1 && n > 2) --n;
      if (change == 2) ++n;
      planner.SetBackends(Backends(n, first));
    }
    ExpectBalanced(planner, 4, n, ids);
    if (::testing::Test::HasFailure()) FAIL() << "at step " << step;
  }
}

// The fraction of clients whose subset changed when a backend joins or leaves:
// the ones that must move (about k/n), each by one backend.
TEST(SubsetPlannerTest, ABackendJoiningOrLeavingMovesAboutKOverNOfTheClients) {
  const size_t k = 5;
  const int n = 50;
  SubsetPlanner planner(k);
  planner.SetBackends(Backends(n));
  const int clients = 2000;
  for (uint64_t id = 0; id < clients; ++id) planner.AddClient(id, Key(id), kNow);
  auto snapshot = [&] {
    std::vector<std::vector<Backend>> subsets;
    for (uint64_t id = 0; id < clients; ++id) subsets.push_back(planner.SubsetOf(id));
    return subsets;
  };
  auto changed = [&](const std::vector<std::vector<Backend>>& before) {
    int count = 0;
    int links = 0;
    for (uint64_t id = 0; id < clients; ++id) {
      const std::vector<Backend> now = planner.SubsetOf(id);
      if (now != before[id]) ++count;
      std::vector<Backend> gone;
      std::set_difference(before[id].begin(), before[id].end(), now.begin(), now.end(),
                          std::back_inserter(gone));
      links += static_cast<int>(gone.size());
    }
    return std::make_pair(static_cast<double>(count) / clients, links);
  };

  std::vector<std::vector<Backend>> before = snapshot();
  planner.SetBackends(Backends(n + 1));  // one joins
  auto [joined_fraction, joined_links] = changed(before);
  // It must end up with about clients*k/(n+1) = 196 links; no more move.
  EXPECT_LE(joined_fraction, 1.2 * static_cast<double>(k) / (n + 1));
  EXPECT_EQ(joined_links, static_cast<int>(planner.Loads().at(Backends(n + 1).back())));
  std::vector<uint64_t> ids(clients);
  for (uint64_t id = 0; id < clients; ++id) ids[id] = id;
  ExpectBalanced(planner, k, n + 1, ids);

  before = snapshot();
  planner.SetBackends(Backends(n, 1));  // the first leaves
  auto [left_fraction, left_links] = changed(before);
  EXPECT_LE(left_fraction, 1.2 * static_cast<double>(k) / n);
  std::printf("k/n = %.3f; clients moved: %.3f when one joined, %.3f when one left\n",
              static_cast<double>(k) / n, joined_fraction, left_fraction);
  ExpectBalanced(planner, k, n, ids);
}

TEST(SubsetPlannerTest, ReportsExactlyTheClientsWhoseSubsetChanged) {
  SubsetPlanner planner(2);
  planner.SetBackends(Backends(5));
  for (uint64_t id = 0; id < 20; ++id) planner.AddClient(id, Key(id), kNow);
  planner.TakeChanged();
  std::map<uint64_t, std::vector<Backend>> before;
  for (uint64_t id = 0; id < 20; ++id) before[id] = planner.SubsetOf(id);
  planner.AddClient(20, Key(20), kNow);
  EXPECT_TRUE(planner.TakeChanged().empty());  // joining moves no one else
  for (uint64_t id : {0, 5, 9}) planner.RemoveClient(id, kNow);
  planner.SetBackends(Backends(5, 1));
  std::set<uint64_t> expected;
  for (uint64_t id = 1; id < 20; ++id) {
    if (id != 5 && id != 9 && planner.SubsetOf(id) != before[id]) expected.insert(id);
  }
  std::set<uint64_t> reported = planner.TakeChanged();
  reported.erase(20);  // it changed too, but it had no "before" here
  EXPECT_EQ(reported, expected);
  EXPECT_FALSE(expected.empty());
}

TEST(SubsetPlannerTest, AReconnectingClientGetsItsSubsetBack) {
  SubsetPlanner planner(3);
  planner.SetBackends(Backends(9));
  for (uint64_t id = 0; id < 30; ++id) planner.AddClient(id, Key(id), kNow);
  const std::vector<Backend> before = planner.SubsetOf(7);
  planner.RemoveClient(7, kNow);
  planner.AddClient(100, Key(7), kNow + absl::Seconds(2));  // same key, new stream
  EXPECT_EQ(planner.SubsetOf(100), before);
  // Long gone: no memory of it (any balanced subset will do).
  planner.RemoveClient(100, kNow + absl::Seconds(3));
  planner.AddClient(101, Key(7), kNow + absl::Hours(1));
  EXPECT_THAT(planner.SubsetOf(101), SizeIs(3));
}

// Issue 13, item 4: clients choose their keys (their name), so joining and
// leaving under ever new, long names must not grow the memory: only a hash of
// the key is kept, and at most kMaxRemembered departed clients.
TEST(SubsetPlannerTest, DepartedClientsAreRememberedWithinABound) {
  SubsetPlanner planner(2);
  planner.SetBackends(Backends(10));
  absl::Time now = kNow;
  const std::string long_name(4096, 'x');
  for (SubsetPlanner::ClientId id = 2; id < 36000; ++id) {
    now += absl::Milliseconds(1);
    planner.AddClient(id, absl::StrCat("10.2.0.1/", id, long_name), now);
    planner.RemoveClient(id, now);
    ASSERT_LE(planner.remembered(), SubsetPlanner::kMaxRemembered);
  }
  EXPECT_EQ(planner.remembered(), SubsetPlanner::kMaxRemembered);
  // The oldest went first; the newest is still known when it comes back.
  planner.AddClient(40000, absl::StrCat("10.2.0.1/", 35999, long_name), now);
  EXPECT_EQ(planner.remembered(), SubsetPlanner::kMaxRemembered - 1);
  // Once their time is up, all are forgotten.
  planner.AddClient(40001, "10.3.0.1/late", now + SubsetPlanner::kRememberFor * 2);
  EXPECT_EQ(planner.remembered(), 0u);
}

TEST(SubsetPlannerTest, ZeroOrMoreThanThereAreMeansEveryBackend) {
  SubsetPlanner all(0);
  all.SetBackends(Backends(4));
  all.AddClient(1, Key(1), kNow);
  EXPECT_EQ(all.SubsetOf(1), Backends(4));
  SubsetPlanner many(10);
  many.SetBackends(Backends(4));
  many.AddClient(1, Key(1), kNow);
  EXPECT_EQ(many.SubsetOf(1), Backends(4));
  many.SetBackends(Backends(12));  // now there are enough: it gets 10
  EXPECT_THAT(many.SubsetOf(1), SizeIs(10));
  many.SetBackends({});
  EXPECT_THAT(many.SubsetOf(1), SizeIs(0));
}

TEST(SubsetPlannerTest, SameOperationsSameSubsets) {
  auto run = [] {
    SubsetPlanner planner(3);
    planner.SetBackends(Backends(10));
    for (uint64_t id = 0; id < 50; ++id) planner.AddClient(id, Key(id), kNow);
    planner.RemoveClient(3, kNow);
    planner.SetBackends(Backends(11));
    std::vector<std::vector<Backend>> subsets;
    for (uint64_t id = 0; id < 50; ++id) subsets.push_back(planner.SubsetOf(id));
    return subsets;
  };
  EXPECT_EQ(run(), run());
  EXPECT_EQ(StableHash("10.0.0.1:8080"), StableHash("10.0.0.1:8080"));
  EXPECT_NE(StableHash("a"), StableHash("b"));
}

// Calls per second each backend gets when every client splits its `rates`
// evenly over its subset; computed from the subsets, not the planner's view.
std::map<Backend, double> RequestLoads(const SubsetPlanner& planner,
                                       const std::vector<double>& rates) {
  std::map<Backend, double> loads;
  for (const auto& [backend, clients] : planner.Loads()) loads[backend] = 0;
  for (uint64_t id = 0; id < rates.size(); ++id) {
    const std::vector<Backend> subset = planner.SubsetOf(id);
    for (const Backend& backend : subset) loads[backend] += rates[id] / subset.size();
  }
  return loads;
}

double MaxOverMean(const std::map<Backend, double>& loads) {
  double total = 0;
  double high = 0;
  for (const auto& [backend, load] : loads) {
    total += load;
    high = std::max(high, load);
  }
  return high / (total / loads.size());
}

// Zipf-distributed rates (exponent 1), shuffled with a fixed seed.
std::vector<double> ZipfRates(size_t clients) {
  std::vector<double> rates(clients);
  for (size_t i = 0; i < clients; ++i) rates[i] = 1000.0 / static_cast<double>(i + 1);
  std::mt19937 rng(7);
  std::shuffle(rates.begin(), rates.end(), rng);
  return rates;
}

TEST(SubsetPlannerTest, HeavyClientsAreSpreadSoEveryBackendGetsTheSameRequests) {
  const size_t k = 10;
  const int n = 100;
  const std::vector<double> rates = ZipfRates(1000);
  SubsetPlanner planner(k);
  planner.SetBackends(Backends(n));
  std::vector<uint64_t> ids;
  for (uint64_t id = 0; id < rates.size(); ++id) {
    planner.AddClient(id, Key(id), kNow);
    ids.push_back(id);
  }
  // Before the reports, connections are even but requests are not: the
  // heaviest client alone makes 13% of the calls, 1.3 backends' worth.
  const double before = MaxOverMean(RequestLoads(planner, rates));
  EXPECT_GT(before, 1.3);

  for (uint64_t id : ids) planner.SetRate(id, rates[id]);
  planner.Replan(100000);
  const double after = MaxOverMean(RequestLoads(planner, rates));
  std::printf("requests max/mean: %.3f before the reports, %.3f after\n", before, after);
  EXPECT_LE(after, 1.10);
  EXPECT_NEAR(MaxOverMean(planner.RequestLoads()), after, 1e-6);  // its own view agrees

  // Connections stay within one; the heaviest clients have more backends.
  EXPECT_LE(ConnectionSpread(planner), 1u);
  const uint64_t heaviest = std::max_element(rates.begin(), rates.end()) - rates.begin();
  EXPECT_THAT(planner.SubsetOf(heaviest), SizeIs(n));
  size_t with_k = 0;
  for (uint64_t id : ids) with_k += planner.SubsetOf(id).size() == k ? 1 : 0;
  EXPECT_GT(with_k, 950u);  // only the heavy few get more
}

TEST(SubsetPlannerTest, ReplanningUnchangedOrSlightlyChangedRatesMovesNoOne) {
  const std::vector<double> rates = ZipfRates(300);
  SubsetPlanner planner(5);
  planner.SetBackends(Backends(30));
  for (uint64_t id = 0; id < rates.size(); ++id) {
    planner.AddClient(id, Key(id), kNow);
    planner.SetRate(id, rates[id]);
  }
  planner.Replan(100000);
  EXPECT_FALSE(planner.TakeChanged().empty());
  planner.Replan(100000);
  EXPECT_THAT(planner.TakeChanged(), SizeIs(0));
  std::mt19937 rng(3);
  std::uniform_real_distribution<double> wobble(0.97, 1.03);
  for (uint64_t id = 0; id < rates.size(); ++id) planner.SetRate(id, rates[id] * wobble(rng));
  planner.Replan(100000);
  EXPECT_THAT(planner.TakeChanged(), SizeIs(0));
}

TEST(SubsetPlannerTest, ReplanMovesAtMostWhatItIsAllowed) {
  const std::vector<double> rates = ZipfRates(300);
  SubsetPlanner planner(5);
  planner.SetBackends(Backends(30));
  for (uint64_t id = 0; id < rates.size(); ++id) planner.AddClient(id, Key(id), kNow);
  // Equal rates but three times heavier for one in ten: no one needs more
  // backends, so every change is a request-load move (a swap moves two).
  for (uint64_t id = 0; id < rates.size(); ++id) planner.SetRate(id, id % 10 == 0 ? 3 : 1);
  planner.TakeChanged();
  planner.Replan(3);
  EXPECT_LE(planner.TakeChanged().size(), 6u);
  const double partly = MaxOverMean(planner.RequestLoads());
  planner.Replan(100000);
  EXPECT_LE(MaxOverMean(planner.RequestLoads()), 1.0 + SubsetPlanner::kTolerance + 1e-9);
  EXPECT_LE(MaxOverMean(planner.RequestLoads()), partly);
}

TEST(SubsetPlannerTest, UnknownAndNonsenseRatesCountAsTheMean) {
  SubsetPlanner planner(2);
  planner.SetBackends(Backends(4));
  for (uint64_t id = 0; id < 8; ++id) planner.AddClient(id, Key(id), kNow);
  planner.SetRate(0, -5);
  planner.SetRate(1, std::nan(""));
  planner.SetRate(2, INFINITY);
  planner.SetRate(3, 10);
  planner.SetRate(99, 1e9);  // no such client
  planner.Replan(100);
  // Client 3 is the only one known: everyone counts as 10 calls/s, 5 per link.
  for (const auto& [backend, load] : planner.RequestLoads()) EXPECT_DOUBLE_EQ(load, 20);
}

TEST(SubsetPlannerTest, BalanceSurvivesChurnWithRates) {
  const size_t k = 4;
  SubsetPlanner planner(k);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> backend_count(6, 30);
  std::exponential_distribution<double> rate(0.1);
  int n = 20;
  planner.SetBackends(Backends(n));
  std::vector<uint64_t> ids;
  uint64_t next = 0;
  for (int step = 0; step < 600; ++step) {
    const int what = static_cast<int>(rng() % 10);
    if (what < 5 || ids.empty()) {
      planner.AddClient(next, Key(next), kNow);
      planner.SetRate(next, rate(rng));
      ids.push_back(next++);
    } else if (what < 8) {
      const size_t i = rng() % ids.size();
      planner.RemoveClient(ids[i], kNow);
      ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (what == 8) {
      n = backend_count(rng);
      planner.SetBackends(Backends(n, static_cast<int>(rng() % 3)));
    } else {
      planner.Replan(50);
    }
    const std::map<Backend, size_t> loads = planner.Loads();
    ASSERT_LE(ConnectionSpread(planner), 1u) << "step " << step;
    for (uint64_t id : ids) {
      const std::vector<Backend> subset = planner.SubsetOf(id);
      ASSERT_GE(subset.size(), std::min<size_t>(k, n)) << "step " << step;
      for (const Backend& backend : subset) ASSERT_TRUE(loads.contains(backend));
    }
  }
}

}  // namespace
}  // namespace jawlb::balancer
