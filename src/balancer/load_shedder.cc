#include "balancer/load_shedder.h"

#include <algorithm>
#include <cmath>

namespace jawlb::balancer {

DropPlan PlanDrops(int percent, size_t backends, size_t max_entries) {
  if (percent <= 0 || backends == 0) return DropPlan{};
  if (percent >= 100) return DropPlan{0, 1};
  const double want = percent / 100.0;
  DropPlan best{1, 0};
  double best_error = want;
  for (size_t copies = 1;; ++copies) {
    const double entries = static_cast<double>(backends * copies);
    // d / (entries + d) = want  →  d = want * entries / (1 - want)
    const auto drops = static_cast<size_t>(std::llround(want * entries / (1 - want)));
    if (copies > 1 && backends * copies + drops > max_entries) break;
    const double error =
        std::abs(static_cast<double>(drops) / (entries + static_cast<double>(drops)) - want);
    if (error < best_error) {
      best = DropPlan{copies, drops};
      best_error = error;
    }
    if (best_error <= 0.005) break;
  }
  return best;
}

bool LoadShedder::Update(double demand, size_t backends) {
  demand_ = demand;
  backends_ = backends;
  const double capacity = this->capacity();
  double wanted = 0;
  if (capacity_ > 0 && backends > 0 && demand > capacity) {
    wanted = std::min(99.0, 100.0 * (1 - capacity / demand));
  }
  // Whole percent, with hysteresis around the current value.
  if (std::abs(wanted - percent_) < 0.75) return false;
  const int next = static_cast<int>(std::lround(wanted));
  if (next == percent_) return false;
  percent_ = next;
  return true;
}

}  // namespace jawlb::balancer
