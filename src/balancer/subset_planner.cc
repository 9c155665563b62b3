#include "balancer/subset_planner.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/strings/str_cat.h"

#include "common/stable_hash.h"

namespace jawlb::balancer {
namespace {

using discovery::Backend;

// Where `backend` comes in the rendezvous order of the client with key hash
// `key`.
uint64_t Rank(uint64_t key, const Backend& backend) {
  return StableHash(absl::StrCat(key, "/", backend.ToString()));
}

}  // namespace

size_t SubsetPlanner::SizeFor(const Client& client) const {
  if (k_ == 0) return backends_.size();
  return std::min(std::max(k_, client.want), backends_.size());
}

double SubsetPlanner::RateOf(const Client& client) const {
  return client.rate.value_or(default_rate_);
}

const Backend* SubsetPlanner::PickLeastLoaded(const Client& client,
                                              const std::set<Backend>& preferred) const {
  const Backend* best = nullptr;
  std::tuple<size_t, bool, double, uint64_t> best_order;
  for (const Backend& backend : backends_) {
    if (client.subset.contains(backend)) continue;
    const BackendState& state = links_.at(backend);
    const std::tuple<size_t, bool, double, uint64_t> order{
        state.clients.size(), !preferred.contains(backend), state.request_load,
        Rank(client.key, backend)};
    if (best == nullptr || order < best_order) {
      best = &backend;
      best_order = order;
    }
  }
  return best;
}

std::set<SubsetPlanner::ClientId> SubsetPlanner::TakeChanged() {
  std::set<ClientId> changed;
  changed.swap(changed_);
  return changed;
}

void SubsetPlanner::Link(ClientId id, Client& client, const Backend& backend) {
  changed_.insert(id);
  client.subset.insert(backend);
  BackendState& state = links_[backend];
  state.clients.insert(id);
  state.request_load += client.weight;
}

void SubsetPlanner::Unlink(ClientId id, Client& client, const Backend& backend) {
  changed_.insert(id);
  client.subset.erase(backend);
  BackendState& state = links_[backend];
  state.clients.erase(id);
  state.request_load -= client.weight;
}

void SubsetPlanner::SetBackends(std::vector<Backend> backends) {
  std::sort(backends.begin(), backends.end());
  backends.erase(std::unique(backends.begin(), backends.end()), backends.end());
  backends_ = std::move(backends);
  // Links to backends that are gone go; new backends start empty.
  std::map<Backend, BackendState> links;
  for (const Backend& backend : backends_) links[backend];
  for (auto& [backend, state] : links_) {
    if (links.contains(backend)) {
      links[backend] = std::move(state);
      continue;
    }
    for (ClientId id : state.clients) {
      clients_[id].subset.erase(backend);
      changed_.insert(id);
    }
  }
  links_ = std::move(links);
  Repair();
  Reweigh();
}

void SubsetPlanner::Forget(absl::Time now, size_t room) {
  while (!forget_at_.empty() &&
         (forget_at_.begin()->first < now || remembered_.size() + room > kMaxRemembered)) {
    const auto [until, key] = *forget_at_.begin();
    forget_at_.erase(forget_at_.begin());
    // The key may have been remembered again since, with a later time.
    if (auto it = remembered_.find(key); it != remembered_.end() && it->second.until == until) {
      remembered_.erase(it);
    }
  }
}

void SubsetPlanner::AddClient(ClientId id, const std::string& key, absl::Time now) {
  const uint64_t hash = StableHash(key);
  std::set<Backend> preferred;
  Forget(now, 0);
  if (auto it = remembered_.find(hash); it != remembered_.end()) {
    preferred = std::move(it->second.subset);
    remembered_.erase(it);  // its forget_at_ entry finds nothing, later
  }
  Client& client = clients_[id];
  client.key = hash;
  client.weight = RateOf(client) / static_cast<double>(std::max<size_t>(1, SizeFor(client)));
  while (client.subset.size() < SizeFor(client)) {
    const Backend* backend = PickLeastLoaded(client, preferred);
    if (backend == nullptr) break;
    Link(id, client, *backend);
  }
  changed_.erase(id);  // its own links are no change to report
}

void SubsetPlanner::RemoveClient(ClientId id, absl::Time now) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  Client& client = it->second;
  Forget(now, 1);
  const absl::Time until = now + kRememberFor;
  remembered_[client.key] = Remembered{client.subset, until};
  forget_at_.emplace(until, client.key);
  for (const Backend& backend : client.subset) {
    BackendState& state = links_[backend];
    state.clients.erase(id);
    state.request_load -= client.weight;
  }
  clients_.erase(it);
  changed_.erase(id);
  Rebalance();
}

void SubsetPlanner::Repair() {
  for (auto& [id, client] : clients_) {
    const size_t k = SizeFor(client);
    while (client.subset.size() > k) {  // fewer backends than before: drop the busiest
      const Backend* busiest = nullptr;
      for (const Backend& backend : client.subset) {
        if (busiest == nullptr ||
            links_[backend].clients.size() > links_[*busiest].clients.size()) {
          busiest = &backend;
        }
      }
      if (busiest == nullptr) break;
      const Backend dropped = *busiest;
      Unlink(id, client, dropped);
    }
    while (client.subset.size() < k) {  // a backend went away, or more are allowed
      const Backend* backend = PickLeastLoaded(client, {});
      if (backend == nullptr) break;
      Link(id, client, *backend);
    }
  }
  Rebalance();
}

void SubsetPlanner::Rebalance() {
  while (!backends_.empty()) {
    const Backend* most = &backends_.front();
    const Backend* least = &backends_.front();
    for (const Backend& backend : backends_) {
      if (links_[backend].clients.size() > links_[*most].clients.size()) most = &backend;
      if (links_[backend].clients.size() < links_[*least].clients.size()) least = &backend;
    }
    if (links_[*most].clients.size() <= links_[*least].clients.size() + 1) return;
    const std::optional<ClientId> mover = PickMover(*most, *least);
    if (!mover.has_value()) return;
    const Backend from = *most;
    const Backend to = *least;
    Client& client = clients_[*mover];
    Unlink(*mover, client, from);
    Link(*mover, client, to);
  }
}

std::optional<SubsetPlanner::ClientId> SubsetPlanner::PickMover(const Backend& from,
                                                                const Backend& to) const {
  double load = 0;
  size_t connections = 0;
  for (const auto& [backend, state] : links_) {
    load += state.request_load;
    connections += state.clients.size();
  }
  const double per_link = connections == 0 ? 0 : load / static_cast<double>(connections);
  const BackendState& from_state = links_.at(from);
  const BackendState& to_state = links_.at(to);
  const double from_target = per_link * static_cast<double>(from_state.clients.size() - 1);
  const double to_target = per_link * static_cast<double>(to_state.clients.size() + 1);
  std::optional<ClientId> mover;
  std::pair<double, uint64_t> best;
  for (ClientId id : from_state.clients) {
    const Client& client = clients_.at(id);
    if (client.subset.contains(to)) continue;
    const double w = client.weight;
    const std::pair<double, uint64_t> order{
        std::max(std::abs(from_state.request_load - w - from_target),
                 std::abs(to_state.request_load + w - to_target)),
        Rank(client.key, to)};
    if (!mover.has_value() || order < best) {
      mover = id;
      best = order;
    }
  }
  return mover;
}

std::vector<Backend> SubsetPlanner::SubsetOf(ClientId id) const {
  auto it = clients_.find(id);
  if (it == clients_.end()) return {};
  return {it->second.subset.begin(), it->second.subset.end()};
}

std::map<Backend, size_t> SubsetPlanner::Loads() const {
  std::map<Backend, size_t> loads;
  for (const auto& [backend, state] : links_) loads[backend] = state.clients.size();
  return loads;
}

std::map<Backend, double> SubsetPlanner::RequestLoads() const {
  std::map<Backend, double> loads;
  for (const auto& [backend, state] : links_) loads[backend] = std::max(0.0, state.request_load);
  return loads;
}

void SubsetPlanner::SetRate(ClientId id, std::optional<double> calls_per_second) {
  auto it = clients_.find(id);
  if (it == clients_.end()) return;
  if (calls_per_second.has_value() &&
      (!std::isfinite(*calls_per_second) || *calls_per_second < 0)) {
    return;
  }
  it->second.rate = calls_per_second;
}

void SubsetPlanner::Reweigh() {
  double known = 0;
  size_t known_count = 0;
  for (const auto& [id, client] : clients_) {
    if (!client.rate.has_value()) continue;
    known += *client.rate;
    ++known_count;
  }
  default_rate_ = known_count > 0 ? known / static_cast<double>(known_count) : 1.0;
  for (auto& [backend, state] : links_) state.request_load = 0;
  for (auto& [id, client] : clients_) {
    client.weight = RateOf(client) / static_cast<double>(std::max<size_t>(1, client.subset.size()));
    for (const Backend& backend : client.subset) links_[backend].request_load += client.weight;
  }
}

void SubsetPlanner::Replan(size_t max_moves) {
  Reweigh();
  if (k_ > 0 && !backends_.empty()) {
    double total = 0;
    for (const auto& [id, client] : clients_) total += RateOf(client);
    const auto n = static_cast<double>(backends_.size());
    for (auto& [id, client] : clients_) {
      if (total <= 0) break;
      // Links of at most 1/kSpread of a backend's fair share (total / n).
      // Not capped at n: a client that wants more than there are takes every
      // backend, and the next one that joins too.
      const double wanted = std::ceil(kSpread * n * RateOf(client) / total);
      const size_t target = std::max(k_, static_cast<size_t>(std::min(wanted, 1e9)));
      const size_t now = std::max(k_, client.want);
      const size_t slack = std::max<size_t>(1, now / 4);  // hysteresis
      if (target > now + slack || target + slack < now || (target == k_ && now != k_)) {
        client.want = target;
      }
    }
    Repair();
    Reweigh();
  }
  // Hysteresis: start only beyond kTrigger, then go down to kTolerance.
  if (MaxDeviation() <= kTrigger) return;
  for (size_t moves = 0; moves < max_moves && ImproveRequestLoad(); ++moves) {
  }
}

double SubsetPlanner::MaxDeviation() const {
  if (backends_.empty()) return 0;
  double total = 0;
  for (const auto& [backend, state] : links_) total += state.request_load;
  const double mean = total / static_cast<double>(backends_.size());
  if (mean <= 0) return 0;
  double deviation = 0;
  for (const auto& [backend, state] : links_) {
    deviation = std::max(deviation, std::abs(state.request_load - mean) / mean);
  }
  return deviation;
}

bool SubsetPlanner::ImproveRequestLoad() {
  if (backends_.size() < 2) return false;
  double total = 0;
  for (const auto& [backend, state] : links_) total += state.request_load;
  const double mean = total / static_cast<double>(backends_.size());
  if (mean <= 0) return false;
  // The backend furthest from the mean.
  const Backend* far = nullptr;
  double deviation = 0;
  for (const auto& [backend, state] : links_) {
    const double d = std::abs(state.request_load - mean);
    if (d > deviation) {
      deviation = d;
      far = &backend;
    }
  }
  if (far == nullptr || deviation <= kTolerance * mean) return false;
  const double far_load = links_.at(*far).request_load;
  const bool far_is_high = far_load > mean;

  // The best move or swap between `far` and any backend on the other side of
  // it, if it leaves both closer to the mean than `far` is now.
  //
  // Whatever moves between two backends, the worse of them ends at least half
  // their summed distance from the mean away from it (|a| + |b| >= |a + b|):
  // pairs are tried by that bound, and once it reaches the best move found, no
  // later pair can beat it. At 10,000 clients this skips most pairs.
  std::vector<std::pair<double, const Backend*>> others;
  for (const auto& [other, state] : links_) {
    if (other == *far || (state.request_load < far_load) != far_is_high) continue;
    others.emplace_back(std::abs(far_load + state.request_load - 2 * mean) / 2, &other);
  }
  std::stable_sort(others.begin(), others.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::optional<Move> best;
  for (const auto& [bound, other] : others) {
    if (best.has_value() && bound >= best->score) break;
    ConsiderMoves(far_is_high ? *far : *other, far_is_high ? *other : *far, mean, best);
  }
  if (!best.has_value() || best->score >= deviation - 1e-3 * mean) return false;
  Client& down = clients_[best->down];
  Unlink(best->down, down, best->hi);
  Link(best->down, down, best->lo);
  if (best->up.has_value()) {
    Client& up = clients_[*best->up];
    Unlink(*best->up, up, best->lo);
    Link(*best->up, up, best->hi);
  }
  return true;
}

void SubsetPlanner::ConsiderMoves(const Backend& hi, const Backend& lo, double mean,
                                  std::optional<Move>& best) const {
  const BackendState& high = links_.at(hi);
  const BackendState& low = links_.at(lo);
  // How far from the mean the worse of the two ends up when `d` moves over.
  auto score = [&](double d) {
    return std::max(std::abs(high.request_load - d - mean), std::abs(low.request_load + d - mean));
  };
  auto offer = [&](ClientId down, std::optional<ClientId> up, double d) {
    if (d <= 0) return;
    const double s = score(d);
    if (!best.has_value() || s < best->score) best = Move{hi, lo, down, up, s};
  };
  // Clients that could go up (on lo, not on hi), by weight.
  std::vector<std::pair<double, ClientId>> ups;
  // Membership by the backends' client sets (integer ids), not the clients'
  // subsets (addresses): this loop is the planner's hottest.
  for (ClientId id : low.clients) {
    if (!high.clients.contains(id)) ups.emplace_back(clients_.at(id).weight, id);
  }
  std::sort(ups.begin(), ups.end());
  const double ideal = (high.request_load - low.request_load) / 2;
  // A single move only where hi has a connection more (counts stay within one).
  const bool may_move = high.clients.size() > low.clients.size();
  for (ClientId id : high.clients) {
    if (low.clients.contains(id)) continue;
    const Client& client = clients_.at(id);
    if (may_move) offer(id, std::nullopt, client.weight);
    // The up-going weight that best makes the difference `ideal`.
    auto it = std::lower_bound(ups.begin(), ups.end(),
                               std::make_pair(client.weight - ideal, ClientId{0}));
    if (it != ups.end()) offer(id, it->second, client.weight - it->first);
    if (it != ups.begin()) offer(id, std::prev(it)->second, client.weight - std::prev(it)->first);
  }
}

}  // namespace jawlb::balancer
