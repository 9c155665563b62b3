// SubsetPlanner: which of the n backends each client gets (JAWLB_MAXSERVERS = k),
// so that every backend has the same number of clients within one, the request
// load the clients report is spread evenly too, and a change moves as few
// clients as it can. docs/subsetting.md explains the choice.
//
// It keeps the assignment as state and repairs it incrementally:
// - a new client takes the least-connected backends (ties: the backends it had
//   if it reconnects within kRememberFor, then the least request load, then
//   its rendezvous order);
// - a client that leaves frees its links; then the assignment is rebalanced;
// - a backend that goes away is replaced, in each of its clients, by the
//   least-loaded backend the client does not have;
// - a backend that comes is filled by moving clients off the most-loaded ones;
// - rebalancing moves one link at a time from a most- to a least-connected
//   backend until they differ by at most one.
// So after every operation max(connections) - min(connections) <= 1, and a
// backend joining or leaving changes about k/n of the clients, each by one
// backend.
//
// Request load: SetRate() gives a client's calls per second (from its load
// reports). A client's calls split evenly over its list, so each of its links
// carries rate / subset size. Replan() gives heavy clients more backends (so
// no single link weighs more than about 1/kSpread of a backend's fair share)
// and then swaps links between backends with equal connection counts until
// every backend's request load is within kTolerance of the mean (once one is
// beyond kTrigger), moving at most the number of links it is allowed. Clients with no known rate
// count as the mean of those with one (all equal when none reports).
//
// Deterministic: the same operations in the same order give the same subsets
// (ties are broken by a fixed hash, never by memory addresses or a salted hash).
//
// Threading: thread-compatible. Pure: no I/O, time passed in.
#ifndef JAWLB_BALANCER_SUBSET_PLANNER_H_
#define JAWLB_BALANCER_SUBSET_PLANNER_H_

#include <cstdint>
#include <map>
#include <optional>
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
  // At most this many departed clients are remembered (the oldest go first):
  // clients choose their keys, so without a bound joining and leaving under
  // ever new names would grow the memory without end.
  static constexpr size_t kMaxRemembered = 10000;
  // A client's link may weigh at most 1/kSpread of a backend's fair share of
  // the request load before the client gets more backends.
  static constexpr double kSpread = 8;
  // Replan() moves links for request load only when a backend is further than
  // kTrigger from the mean (a fraction of it), and then until every backend is
  // within kTolerance: so small drifts in the rates move no one.
  static constexpr double kTrigger = 0.08;
  static constexpr double kTolerance = 0.04;

  // `k` backends per client; 0: every client gets every backend.
  explicit SubsetPlanner(size_t k) : k_(k) {}

  // Replaces the backend set (any order; duplicates ignored).
  void SetBackends(std::vector<discovery::Backend> backends);
  // A client joins. `key` names it across reconnects (its address and the
  // name it asked for); only a 64-bit hash of it is kept, so a key costs the
  // same whatever its length. REQUIRES: `id` is not a current client.
  void AddClient(ClientId id, const std::string& key, absl::Time now);
  // A client leaves; its subset is remembered for kRememberFor. O(log n)
  // (amortized) in the clients remembered. Unknown ids are ignored.
  void RemoveClient(ClientId id, absl::Time now);

  // The client's calls per second (nullopt: unknown). Takes effect at the next
  // Replan(). Unknown ids and negative or non-finite rates are ignored.
  void SetRate(ClientId id, std::optional<double> calls_per_second);
  // Re-plans for the rates set so far: resizes the subsets of clients whose
  // share of the load changed by more than a quarter, then evens the request
  // load, moving at most `max_moves` links for it. Connections stay within one.
  void Replan(size_t max_moves);

  // The client's backends, sorted; empty for an unknown client.
  std::vector<discovery::Backend> SubsetOf(ClientId id) const;
  // Departed clients remembered now.
  size_t remembered() const { return remembered_.size(); }
  // Clients per backend.
  std::map<discovery::Backend, size_t> Loads() const;
  // Expected calls per second per backend: every client's rate split evenly
  // over its subset (as of the last Replan for the rates of unknown clients).
  std::map<discovery::Backend, double> RequestLoads() const;
  // The clients whose subset changed since the last call, other than by their
  // own AddClient (rebalancing after a client left, backend changes, Replan).
  std::set<ClientId> TakeChanged();

 private:
  struct Client {
    uint64_t key = 0;  // StableHash of the key it joined with
    std::set<discovery::Backend> subset;
    std::optional<double> rate;  // calls per second, when known
    size_t want = 0;             // backends wanted for its load; 0: k
    double weight = 1;           // the request load each of its links carries
  };
  struct Remembered {
    std::set<discovery::Backend> subset;
    absl::Time until;
  };
  struct BackendState {
    std::set<ClientId> clients;
    double request_load = 0;
  };
  // A link of `down` from hi to lo, and with `up` one back (a swap).
  struct Move {
    discovery::Backend hi;
    discovery::Backend lo;
    ClientId down = 0;
    std::optional<ClientId> up;
    double score = 0;  // how far from the mean the worse of the two ends up
  };

  // How many backends `client` gets.
  size_t SizeFor(const Client& client) const;
  // The backend `client` should take next: least connected, not already
  // taken; ties by `preferred`, then request load, then rendezvous order.
  const discovery::Backend* PickLeastLoaded(const Client& client,
                                            const std::set<discovery::Backend>& preferred) const;
  void Link(ClientId id, Client& client, const discovery::Backend& backend);
  void Unlink(ClientId id, Client& client, const discovery::Backend& backend);
  // Gives every client the number of backends it should have, then evens the
  // connection counts.
  void Repair();
  void Rebalance();
  // The client to move from `from` (a most-connected backend) to `to` (a
  // least-connected one), among those that do not have `to`: the one whose
  // link leaves both closest to carrying the mean load per connection (so a
  // new backend fills with links of average weight and its donors keep
  // theirs); ties by the rank `to` has in its rendezvous order.
  std::optional<ClientId> PickMover(const discovery::Backend& from,
                                    const discovery::Backend& to) const;
  // The rate a client counts with: its own, or the mean of the known ones.
  double RateOf(const Client& client) const;
  // Forgets the remembered clients whose time is up at `now`, and the oldest
  // beyond kMaxRemembered - `room`.
  void Forget(absl::Time now, size_t room);
  // Sets each client's link weight from its rate and subset size, and every
  // backend's request load from scratch.
  void Reweigh();
  // The largest |request load - mean| / mean over the backends.
  double MaxDeviation() const;
  // One swap or move that brings the backend furthest from the mean request
  // load closer to it; false when there is none worth making.
  bool ImproveRequestLoad();
  // Puts in `best` the move or swap between `hi` and `lo` that leaves them
  // closest to `mean`, if it beats what `best` holds.
  void ConsiderMoves(const discovery::Backend& hi, const discovery::Backend& lo, double mean,
                     std::optional<Move>& best) const;

  const size_t k_;
  std::vector<discovery::Backend> backends_;  // sorted, distinct
  std::map<discovery::Backend, BackendState> links_;
  std::map<ClientId, Client> clients_;
  std::map<uint64_t, Remembered> remembered_;      // by client key hash
  std::multimap<absl::Time, uint64_t> forget_at_;  // remembered_'s keys by `until`
  std::set<ClientId> changed_;
  double default_rate_ = 1;  // for clients with no known rate
};

}  // namespace jawlb::balancer

#endif  // JAWLB_BALANCER_SUBSET_PLANNER_H_
