#include "balancer/subset_planner.h"

#include <algorithm>
#include <tuple>

namespace jawlb::balancer {
namespace {

using discovery::Backend;

uint64_t Rank(const std::string& key, const Backend& backend) {
  return StableHash(key + "/" + backend.ToString());
}

}  // namespace

uint64_t StableHash(const std::string& text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  // splitmix64's finalizer: FNV alone mixes the last bytes poorly.
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ULL;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  return hash;
}

size_t SubsetPlanner::EffectiveK() const {
  return k_ == 0 ? backends_.size() : std::min(k_, backends_.size());
}

const Backend* SubsetPlanner::PickLeastLoaded(const Client& client,
                                              const std::set<Backend>& preferred) const {
  const Backend* best = nullptr;
  std::tuple<size_t, bool, uint64_t> best_order;
  for (const Backend& backend : backends_) {
    if (client.subset.contains(backend)) continue;
    const std::tuple<size_t, bool, uint64_t> order{
        links_.at(backend).size(), !preferred.contains(backend), Rank(client.key, backend)};
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
  links_[backend].insert(id);
}

void SubsetPlanner::Unlink(ClientId id, Client& client, const Backend& backend) {
  changed_.insert(id);
  client.subset.erase(backend);
  links_[backend].erase(id);
}

void SubsetPlanner::SetBackends(std::vector<Backend> backends) {
  std::sort(backends.begin(), backends.end());
  backends.erase(std::unique(backends.begin(), backends.end()), backends.end());
  backends_ = std::move(backends);
  // Links to backends that are gone go; new backends start empty.
  std::map<Backend, std::set<ClientId>> links;
  for (const Backend& backend : backends_) links[backend];
  for (auto& [backend, ids] : links_) {
    if (links.contains(backend)) {
      links[backend] = std::move(ids);
      continue;
    }
    for (ClientId id : ids) {
      clients_[id].subset.erase(backend);
      changed_.insert(id);
    }
  }
  links_ = std::move(links);
  Repair();
}

void SubsetPlanner::AddClient(ClientId id, std::string key, absl::Time now) {
  std::set<Backend> preferred;
  if (auto it = remembered_.find(key); it != remembered_.end()) {
    if (it->second.until >= now) preferred = std::move(it->second.subset);
    remembered_.erase(it);
  }
  Client& client = clients_[id];
  client.key = std::move(key);
  while (client.subset.size() < EffectiveK()) {
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
  for (auto r = remembered_.begin(); r != remembered_.end();) {  // forget the stale
    r = r->second.until < now ? remembered_.erase(r) : std::next(r);
  }
  remembered_[client.key] = Remembered{client.subset, now + kRememberFor};
  for (const Backend& backend : client.subset) links_[backend].erase(id);
  clients_.erase(it);
  changed_.erase(id);
  Rebalance();
}

void SubsetPlanner::Repair() {
  const size_t k = EffectiveK();
  for (auto& [id, client] : clients_) {
    while (client.subset.size() > k) {  // fewer backends than before: drop the busiest
      const Backend* busiest = nullptr;
      for (const Backend& backend : client.subset) {
        if (busiest == nullptr || links_[backend].size() > links_[*busiest].size()) {
          busiest = &backend;
        }
      }
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
      if (links_[backend].size() > links_[*most].size()) most = &backend;
      if (links_[backend].size() < links_[*least].size()) least = &backend;
    }
    if (links_[*most].size() <= links_[*least].size() + 1) return;
    // Move one client from `most` to `least`: the one that ranks `least`
    // highest among those that do not have it (there is one: `most` has more
    // clients than `least`).
    ClientId mover = 0;
    uint64_t best = 0;
    bool found = false;
    for (ClientId id : links_[*most]) {
      const Client& client = clients_[id];
      if (client.subset.contains(*least)) continue;
      const uint64_t rank = Rank(client.key, *least);
      if (!found || rank < best) {
        mover = id;
        best = rank;
        found = true;
      }
    }
    if (!found) return;
    const Backend from = *most;
    const Backend to = *least;
    Client& client = clients_[mover];
    Unlink(mover, client, from);
    Link(mover, client, to);
  }
}

std::vector<Backend> SubsetPlanner::SubsetOf(ClientId id) const {
  auto it = clients_.find(id);
  if (it == clients_.end()) return {};
  return {it->second.subset.begin(), it->second.subset.end()};
}

std::map<Backend, size_t> SubsetPlanner::Loads() const {
  std::map<Backend, size_t> loads;
  for (const auto& [backend, ids] : links_) loads[backend] = ids.size();
  return loads;
}

}  // namespace jawlb::balancer
