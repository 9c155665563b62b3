#include "balancer/health_tracker.h"

#include <algorithm>

namespace jawlb::balancer {

using discovery::Backend;

const char* VerdictName(HealthTracker::Verdict verdict) {
  switch (verdict) {
    case HealthTracker::Verdict::kServing:
      return "serving";
    case HealthTracker::Verdict::kNotServing:
      return "not_serving";
    case HealthTracker::Verdict::kUnreachable:
      return "unreachable";
  }
  return "?";
}

void HealthTracker::SetBackends(const std::vector<Backend>& backends) {
  std::map<Backend, State> states;
  for (const Backend& backend : backends) {
    auto it = states_.find(backend);
    states[backend] = it != states_.end() ? std::move(it->second) : State{};
  }
  states_ = std::move(states);
}

void HealthTracker::Observe(const Backend& backend, Verdict verdict, std::string detail,
                            absl::Time now) {
  auto it = states_.find(backend);
  if (it == states_.end()) return;
  State& state = it->second;
  state.last = verdict;
  state.detail = std::move(detail);
  while (!state.removals.empty() && state.removals.front() < now - options_.flap_memory) {
    state.removals.pop_front();
  }
  if (verdict == Verdict::kServing) {
    if (state.removed && !state.serving_since.has_value()) state.serving_since = now;
    return;
  }
  state.serving_since.reset();
  if (!state.removed) {
    state.removed = true;
    state.removals.push_back(now);
  }
}

absl::Duration HealthTracker::HoldFor(const State& state) const {
  absl::Duration hold = options_.readmit_after;
  for (size_t i = 1; i < state.removals.size() && hold < options_.max_hold; ++i) hold *= 2;
  return std::min(hold, options_.max_hold);
}

void HealthTracker::Advance(absl::Time now) {
  for (auto& [backend, state] : states_) {
    if (state.removed && state.serving_since.has_value() &&
        now - *state.serving_since >= HoldFor(state)) {
      state.removed = false;
      state.serving_since.reset();
    }
  }
}

size_t HealthTracker::removed_count() const {
  return static_cast<size_t>(std::count_if(states_.begin(), states_.end(),
                                           [](const auto& entry) { return entry.second.removed; }));
}

bool HealthTracker::panic() const { return removed_count() * 2 > states_.size(); }

std::vector<Backend> HealthTracker::Usable() const {
  const bool all = panic();
  std::vector<Backend> usable;
  for (const auto& [backend, state] : states_) {
    if (all || !state.removed) usable.push_back(backend);
  }
  return usable;
}

absl::Time HealthTracker::NextReadmission() const {
  absl::Time next = absl::InfiniteFuture();
  for (const auto& [backend, state] : states_) {
    if (state.removed && state.serving_since.has_value()) {
      next = std::min(next, *state.serving_since + HoldFor(state));
    }
  }
  return next;
}

std::vector<HealthTracker::Entry> HealthTracker::Describe() const {
  std::vector<Entry> entries;
  for (const auto& [backend, state] : states_) {
    Entry entry;
    entry.backend = backend;
    entry.last = state.last;
    entry.detail = state.detail;
    entry.removed = state.removed;
    entry.recent_removals = static_cast<int>(state.removals.size());
    if (state.removed && state.serving_since.has_value()) {
      entry.readmit_at = *state.serving_since + HoldFor(state);
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace jawlb::balancer
