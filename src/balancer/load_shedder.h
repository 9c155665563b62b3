// LoadShedder: JAWLB_MAXRPSPERBACKEND. When the calls clients report exceed
// what the ready backends can take, a share of them is dropped at the client:
// grpclb lists carry drop entries, and a client drops a call whenever its
// rotating pick lands on one (C-core, grpc-go and grpc-java all pick drops
// over every entry), so the drop fraction is drop entries / entries.
//
// Demand is the clients' smoothed calls started per second — including the
// calls they dropped, so shedding measures offered load, not what got through,
// and does not feed back on itself. Capacity is the per-backend limit times
// the backends sent. The drop share is kept in whole percent, and changes only
// when the wanted share is 0.75 points away from the current one (hysteresis:
// rates that wobble do not republish lists).
//
// Threading: thread-compatible. Pure: no I/O, no clock.
#ifndef JAWLB_BALANCER_LOAD_SHEDDER_H_
#define JAWLB_BALANCER_LOAD_SHEDDER_H_

#include <cstddef>

namespace jawlb::balancer {

// How one list of `backends` entries expresses a drop share: every backend
// `copies` times and `drops` drop entries, spread evenly.
struct DropPlan {
  size_t copies = 1;
  size_t drops = 0;
  bool operator==(const DropPlan&) const = default;
};

// The shortest list (at most `max_entries` long, unless `backends` alone is
// longer) whose drop fraction is within half a point of `percent`, or the
// closest within the cap. 0 percent: no drops; 100: drops only (no backends).
DropPlan PlanDrops(int percent, size_t backends, size_t max_entries = 1000);

class LoadShedder {
 public:
  // `capacity_per_backend`: calls per second a backend takes (0: never shed).
  explicit LoadShedder(double capacity_per_backend) : capacity_(capacity_per_backend) {}

  // The clients' summed demand now, and the backends sent. True when the
  // drop share changed.
  bool Update(double demand, size_t backends);

  // Whole percent of calls to drop, 0-99 (never every call: some must reach a
  // backend for the demand figure to mean anything, and an overloaded backend
  // still serves its capacity).
  int percent() const { return percent_; }
  double demand() const { return demand_; }
  double capacity() const { return capacity_ * static_cast<double>(backends_); }

 private:
  const double capacity_;
  int percent_ = 0;
  double demand_ = 0;
  size_t backends_ = 0;
};

}  // namespace jawlb::balancer

#endif  // JAWLB_BALANCER_LOAD_SHEDDER_H_
