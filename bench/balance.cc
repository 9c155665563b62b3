// balance: the balancing policies on simulated clients and backends (no
// network, no time): how even the per-backend request load and connection
// count are, and how many clients a backend joining or leaving moves.
//
// Policies:
// - rotation: every client gets every backend (the original Jawlb: it rotated
//   the list, which changes nothing for a round-robin client);
// - random: each client takes k backends at random — by rendezvous hashing, so
//   the choice is stable and a backend change moves only the clients it must
//   (the kindest form of random subsetting);
// - jawlb: balancer::SubsetPlanner, told every client's rate as its reports
//   would, then Replan() (docs/subsetting.md).
//
// Clients' request rates follow a Zipf law (exponent --zipf) in random order;
// clients join before their rates are known, as real ones do.
//
// Prints a Markdown table (docs/balancing.md is its output).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#include "balancer/subset_planner.h"
#include "common/stable_hash.h"
#include "discovery/backend.h"

ABSL_FLAG(double, zipf, 1.0, "exponent of the clients' Zipf-distributed request rates");
ABSL_FLAG(uint32_t, seed, 1, "random seed (the run is deterministic for a seed)");

namespace {

using jawlb::StableHash;
using jawlb::balancer::SubsetPlanner;
using jawlb::discovery::Backend;
using List = std::vector<Backend>;

std::vector<Backend> Backends(int n, int first = 0) {
  std::vector<Backend> backends;
  for (int i = first; i < first + n; ++i) {
    backends.push_back(
        *jawlb::discovery::MakeBackend(absl::StrCat("10.1.", i / 256, ".", i % 256), 8080));
  }
  return backends;
}

std::string Key(size_t client) {
  return absl::StrCat("10.2.", client / 256, ".", client % 256, "/svc");
}

// A policy under test.
class Policy {
 public:
  virtual ~Policy() = default;
  virtual void Start(const std::vector<Backend>& backends, const std::vector<double>& rates) = 0;
  virtual void SetBackends(const std::vector<Backend>& backends) = 0;
  // After a backend change: a chance to re-plan (as jawlb does periodically).
  virtual void Settle() {}
  virtual List ListOf(size_t client) const = 0;
};

class Rotation : public Policy {
 public:
  void Start(const std::vector<Backend>& backends, const std::vector<double>&) override {
    backends_ = backends;
  }
  void SetBackends(const std::vector<Backend>& backends) override { backends_ = backends; }
  List ListOf(size_t) const override { return backends_; }

 private:
  std::vector<Backend> backends_;
};

class RandomSubset : public Policy {
 public:
  explicit RandomSubset(size_t k) : k_(k) {}
  void Start(const std::vector<Backend>& backends, const std::vector<double>& rates) override {
    clients_ = rates.size();
    SetBackends(backends);
  }
  void SetBackends(const std::vector<Backend>& backends) override {
    lists_.assign(clients_, {});
    for (size_t c = 0; c < clients_; ++c) {
      std::vector<std::pair<uint64_t, Backend>> ranked;
      for (const Backend& b : backends) ranked.emplace_back(StableHash(Key(c) + b.ToString()), b);
      std::sort(ranked.begin(), ranked.end());
      for (size_t i = 0; i < std::min(k_, ranked.size()); ++i)
        lists_[c].push_back(ranked[i].second);
      std::sort(lists_[c].begin(), lists_[c].end());
    }
  }
  List ListOf(size_t client) const override { return lists_[client]; }

 private:
  size_t k_;
  size_t clients_ = 0;
  std::vector<List> lists_;
};

class Jawlb : public Policy {
 public:
  explicit Jawlb(size_t k) : planner_(k) {}
  void Start(const std::vector<Backend>& backends, const std::vector<double>& rates) override {
    const absl::Time now = absl::UnixEpoch();
    planner_.SetBackends(backends);
    for (size_t c = 0; c < rates.size(); ++c) planner_.AddClient(c, Key(c), now);
    // Their first load reports arrive.
    for (size_t c = 0; c < rates.size(); ++c) planner_.SetRate(c, rates[c]);
    Settle();
  }
  void SetBackends(const std::vector<Backend>& backends) override {
    planner_.SetBackends(backends);
  }
  void Settle() override { planner_.Replan(kMovesPerReplan); }
  List ListOf(size_t client) const override { return planner_.SubsetOf(client); }

  static constexpr size_t kMovesPerReplan = 100000;

 private:
  SubsetPlanner planner_;
};

struct Spread {
  double max_over_mean = 0;
  double min_over_mean = 0;
  double max = 0;
  double min = 0;
};

Spread SpreadOf(const std::map<Backend, double>& values) {
  Spread spread;
  double total = 0;
  spread.min = INFINITY;
  for (const auto& [backend, value] : values) {
    total += value;
    spread.max = std::max(spread.max, value);
    spread.min = std::min(spread.min, value);
  }
  const double mean = total / static_cast<double>(values.size());
  spread.max_over_mean = spread.max / mean;
  spread.min_over_mean = spread.min / mean;
  return spread;
}

struct Figures {
  Spread requests;
  Spread connections;
  double links_per_client = 0;
  size_t longest_list = 0;
  double moved_on_join = 0;  // fraction of clients whose list changed
  double moved_on_leave = 0;
  double moved_on_join_settled = 0;  // including the next re-plan
  double moved_on_leave_settled = 0;
  double seconds = 0;     // the initial plan's CPU
  Spread requests_after;  // after the join and the leave, re-planned
};

std::vector<List> Lists(const Policy& policy, size_t clients) {
  std::vector<List> lists;
  for (size_t c = 0; c < clients; ++c) lists.push_back(policy.ListOf(c));
  return lists;
}

double Moved(const std::vector<List>& before, const std::vector<List>& after) {
  size_t moved = 0;
  for (size_t c = 0; c < before.size(); ++c) moved += before[c] != after[c] ? 1 : 0;
  return static_cast<double>(moved) / static_cast<double>(before.size());
}

Figures Measure(Policy& policy, const std::vector<double>& rates, int n) {
  Figures figures;
  const size_t clients = rates.size();
  const std::vector<Backend> backends = Backends(n);
  const auto start = std::chrono::steady_clock::now();
  policy.Start(backends, rates);
  figures.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::map<Backend, double> requests;
  std::map<Backend, double> connections;
  for (const Backend& b : backends) requests[b] = connections[b] = 0;
  size_t links = 0;
  const std::vector<List> lists = Lists(policy, clients);
  for (size_t c = 0; c < clients; ++c) {
    // A round-robin client splits its calls evenly over its list's entries.
    for (const Backend& b : lists[c]) {
      requests[b] += rates[c] / static_cast<double>(lists[c].size());
      connections[b] += 1;
    }
    links += lists[c].size();
    figures.longest_list = std::max(figures.longest_list, lists[c].size());
  }
  figures.requests = SpreadOf(requests);
  figures.connections = SpreadOf(connections);
  figures.links_per_client = static_cast<double>(links) / static_cast<double>(clients);

  // One backend joins, then (from the same start) the first one leaves.
  std::vector<List> before = lists;
  policy.SetBackends(Backends(n + 1));
  figures.moved_on_join = Moved(before, Lists(policy, clients));
  policy.Settle();
  figures.moved_on_join_settled = Moved(before, Lists(policy, clients));
  before = Lists(policy, clients);
  policy.SetBackends(Backends(n, 1));
  figures.moved_on_leave = Moved(before, Lists(policy, clients));
  policy.Settle();
  figures.moved_on_leave_settled = Moved(before, Lists(policy, clients));
  std::map<Backend, double> after;
  for (const Backend& b : Backends(n, 1)) after[b] = 0;
  for (size_t c = 0; c < clients; ++c) {
    const List list = policy.ListOf(c);
    for (const Backend& b : list) after[b] += rates[c] / static_cast<double>(list.size());
  }
  figures.requests_after = SpreadOf(after);
  return figures;
}

std::vector<double> ZipfRates(size_t clients, double exponent, std::mt19937& rng) {
  std::vector<double> rates(clients);
  for (size_t i = 0; i < clients; ++i) {
    rates[i] = 1000.0 / std::pow(static_cast<double>(i + 1), exponent);
  }
  std::shuffle(rates.begin(), rates.end(), rng);
  return rates;
}

void Scenario(size_t clients, int n, size_t k, double exponent, uint32_t seed) {
  std::mt19937 rng(seed);
  const std::vector<double> rates = ZipfRates(clients, exponent, rng);
  const double heaviest = *std::max_element(rates.begin(), rates.end());
  const double total = std::accumulate(rates.begin(), rates.end(), 0.0);
  std::printf("\n### %zu clients, %d backends, k = %zu, Zipf exponent %.2g\n\n", clients, n, k,
              exponent);
  std::printf(
      "The heaviest client makes %.1f%% of all calls; a backend's fair share is %.2f%%. "
      "k/n = %.3f.\n\n",
      100 * heaviest / total, 100.0 / n, static_cast<double>(k) / n);
  std::printf(
      "| policy | requests max/mean | requests min/mean | connections max/mean | "
      "connections min/mean | connections max-min | backends per client (mean / max) | "
      "clients moved: join | leave | join, after re-plan | leave, after re-plan | "
      "requests max/mean after both | plan CPU |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  auto row = [&](const char* name, Policy& policy) {
    const Figures f = Measure(policy, rates, n);
    std::printf(
        "| %s | %.3f | %.3f | %.3f | %.3f | %.0f | %.1f / %zu | %.3f | %.3f | %.3f | "
        "%.3f | %.3f | %.0f ms |\n",
        name, f.requests.max_over_mean, f.requests.min_over_mean, f.connections.max_over_mean,
        f.connections.min_over_mean, f.connections.max - f.connections.min, f.links_per_client,
        f.longest_list, f.moved_on_join, f.moved_on_leave, f.moved_on_join_settled,
        f.moved_on_leave_settled, f.requests_after.max_over_mean, 1000 * f.seconds);
    std::fflush(stdout);
  };
  Rotation rotation;
  row("rotation (original)", rotation);
  RandomSubset random(k);
  row("random subsetting", random);
  Jawlb jawlb(k);
  row("jawlb", jawlb);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const double exponent = absl::GetFlag(FLAGS_zipf);
  const uint32_t seed = absl::GetFlag(FLAGS_seed);
  std::printf("## Balancing policies, simulated (bench/balance --zipf=%.2g --seed=%u)\n", exponent,
              seed);
  Scenario(1000, 100, 10, exponent, seed);
  Scenario(300, 300, 30, exponent, seed);
  Scenario(1000, 100, 10, 0, seed);  // every client equal: connections are the load
  return 0;
}
