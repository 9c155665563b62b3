// SubsetPlanner: which k of the n backends each client gets (JAWLB_MAXSERVERS),
// so that every backend has the same number of clients within one, and a
// change moves as few clients as it can. docs/subsetting.md explains the choice.
//
// It keeps the assignment as state and repairs it incrementally:
// - a new client takes the k least-loaded backends (ties: its rendezvous
//   order, or the backends it had if it reconnects within kRememberFor);
// - a client that leaves frees its links; then the assignment is rebalanced;
// - a backend that goes away is replaced, in each of its clients, by the
//   least-loaded backend the client does not have;
// - a backend that comes is filled by moving clients off the most-loaded ones;
// - rebalancing moves one link at a time from a most- to a least-loaded
//   backend until they differ by at most one.
// So after every operation max(load) - min(load) <= 1, and a backend joining
// or leaving changes about k/n of the clients (those that must move), each by
// one backend.
//
// Deterministic: the same operations in the same order give the same subsets
// (ties are broken by a fixed hash, never by memory addresses or a salted hash).
//
// Threading: thread-compatible. Pure: no I/O, time passed in.
#ifndef JAWLB_BALANCER_SUBSET_PLANNER_H_
#define JAWLB_BALANCER_SUBSET_PLANNER_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "discovery/backend.h"

namespace jawlb::balancer {

class SubsetPlanner {
 public:
  using ClientId = uint64_t;
  static constexpr absl::Duration kRememberFor = absl::Minutes(5);

  // `k` backends per client; 0: every client gets every backend.
  explicit SubsetPlanner(size_t k) : k_(k) {}

  // Replaces the backend set (any order; duplicates ignored).
  void SetBackends(std::vector<discovery::Backend> backends);
  // A client joins. `key` names it across reconnects (its address and the
  // name it asked for). REQUIRES: `id` is not a current client.
  void AddClient(ClientId id, std::string key, absl::Time now);
  // A client leaves. Unknown ids are ignored.
  void RemoveClient(ClientId id, absl::Time now);

  // The client's backends, sorted; empty for an unknown client.
  std::vector<discovery::Backend> SubsetOf(ClientId id) const;
  // Clients per backend.
  std::map<discovery::Backend, size_t> Loads() const;
  // The clients whose subset changed since the last call, other than by their
  // own AddClient (rebalancing after a client left, backend changes).
  std::set<ClientId> TakeChanged();

 private:
  struct Client {
    std::string key;
    std::set<discovery::Backend> subset;
  };
  struct Remembered {
    std::set<discovery::Backend> subset;
    absl::Time until;
  };

  size_t EffectiveK() const;
  // The backend `client` should take next: least loaded, not already taken;
  // ties by `preferred`, then by the client's rendezvous order.
  const discovery::Backend* PickLeastLoaded(const Client& client,
                                            const std::set<discovery::Backend>& preferred) const;
  void Link(ClientId id, Client& client, const discovery::Backend& backend);
  void Unlink(ClientId id, Client& client, const discovery::Backend& backend);
  // Gives every client EffectiveK() backends, then evens the loads.
  void Repair();
  void Rebalance();

  const size_t k_;
  std::vector<discovery::Backend> backends_;                // sorted, distinct
  std::map<discovery::Backend, std::set<ClientId>> links_;  // backend → its clients
  std::map<ClientId, Client> clients_;
  std::map<std::string, Remembered> remembered_;  // by client key
  std::set<ClientId> changed_;
};

// A fixed 64-bit hash of `text` (FNV-1a with a final mix): the same in every
// process and build, unlike absl::Hash.
uint64_t StableHash(const std::string& text);

}  // namespace jawlb::balancer

#endif  // JAWLB_BALANCER_SUBSET_PLANNER_H_
