// SubsetPolicy: per-client lists for JAWLB_MAXSERVERS = k > 0, around the
// balancer's SubsetPlanner. Streams join with a key that survives reconnects
// (the client's IP and the name it asked for), ask for their list, and leave;
// when a departure or a backend change moves other clients, those streams are
// told (OnSubsetChanged) so they write their new list. Load reports feed the
// planner's request rates; it re-plans at most every kReplanEvery. grpclb
// streams report on themselves (by id); an xDS client reports on a stream of
// its own (LRS), so its rate arrives by the key its ADS stream joined with.
//
// With k = 0 the policy is off: every stream writes the Hub's shared list.
//
// Threading: thread-safe (one mutex around the planner; members are called
// back with no lock held). SetBackends() runs on the source's thread, the rest
// on the transport's threads.
#ifndef JAWLB_GRPCLB_SUBSET_POLICY_H_
#define JAWLB_GRPCLB_SUBSET_POLICY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "balancer/subset_planner.h"
#include "common/clock.h"
#include "discovery/backend_set.h"

namespace jawlb::grpclb {

class SubsetPolicy {
 public:
  class Member {
   public:
    virtual ~Member() = default;
    // Its subset changed; must not block or call back into the policy.
    virtual void OnSubsetChanged() = 0;
  };

  static constexpr absl::Duration kReplanEvery = absl::Seconds(5);

  // `replan_every`: how often at most load reports re-plan (tests: zero), by
  // `clock` (borrowed; outlives the policy).
  explicit SubsetPolicy(size_t k, absl::Duration replan_every = kReplanEvery,
                        const Clock& clock = Clock::Real())
      : k_(k), replan_every_(replan_every), clock_(clock), planner_(k) {}

  bool enabled() const { return k_ > 0; }

  // The service's backends now. Call before the Hub publishes them: the Hub's
  // wake then finds every subset updated (so this wakes no one itself).
  void SetBackends(const discovery::BackendSet& backends) ABSL_LOCKS_EXCLUDED(mu_);
  // A stream joins; returns its id. `member` is held weakly.
  uint64_t Join(const std::string& key, std::weak_ptr<Member> member) ABSL_LOCKS_EXCLUDED(mu_);
  // A stream leaves; the clients this moves are told.
  void Leave(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  // A membership that leaves when destroyed. REQUIRES: the policy outlives it.
  class Membership {
   public:
    Membership(SubsetPolicy& policy, uint64_t id) : policy_(policy), id_(id) {}
    ~Membership() { policy_.Leave(id_); }
    Membership(const Membership&) = delete;
    Membership& operator=(const Membership&) = delete;
    uint64_t id() const { return id_; }

   private:
    SubsetPolicy& policy_;
    const uint64_t id_;
  };
  // Join() as a Membership; null when the policy is off.
  std::unique_ptr<Membership> JoinScoped(const std::string& key, std::weak_ptr<Member> member)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The client's smoothed calls per second, from its load report. Every
  // kReplanEvery at most, the planner re-plans for the rates it knows (heavy
  // clients get more backends, links move so request load evens out, at most
  // MovesPerReplan() of them), and the clients this moves are told.
  void Report(uint64_t id, double calls_per_second) ABSL_LOCKS_EXCLUDED(mu_);
  // As Report(), for the streams that joined with `key`, the rate split evenly
  // among them (clients that share a key — processes behind one address —
  // report together). Unknown keys are ignored.
  void ReportByKey(const std::string& key, double calls_per_second) ABSL_LOCKS_EXCLUDED(mu_);
  // The stream's list.
  discovery::BackendSet ListFor(uint64_t id) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Takes the rate and re-plans when it is time; returns the clients moved.
  std::set<balancer::SubsetPlanner::ClientId> ReplanIfDue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Tells the members in `changed`.
  void Notify(const std::set<balancer::SubsetPlanner::ClientId>& changed) ABSL_LOCKS_EXCLUDED(mu_);

  const size_t k_;
  const absl::Duration replan_every_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  balancer::SubsetPlanner planner_ ABSL_GUARDED_BY(mu_);
  using ByKey = std::multimap<std::string, uint64_t>;
  struct Joined {
    std::weak_ptr<Member> member;
    ByKey::iterator key;  // its entry in by_key_ (the key is kept once)
  };
  std::map<uint64_t, Joined> members_ ABSL_GUARDED_BY(mu_);
  ByKey by_key_ ABSL_GUARDED_BY(mu_);
  discovery::BackendSet backends_ ABSL_GUARDED_BY(mu_);  // the newest set (weights, zones)
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Time last_replan_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_SUBSET_POLICY_H_
