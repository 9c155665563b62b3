#include "discovery/backend_set.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace jawlb::discovery {

BackendSet::BackendSet(std::vector<Backend> backends, const std::map<Backend, uint32_t>& weights,
                       const std::map<Backend, std::string>& zones)
    : backends_(std::move(backends)) {
  std::sort(backends_.begin(), backends_.end());
  backends_.erase(std::unique(backends_.begin(), backends_.end()), backends_.end());
  for (const auto& [backend, weight] : weights) {
    if (weight <= 1 || !std::binary_search(backends_.begin(), backends_.end(), backend)) continue;
    weights_[backend] = std::min(weight, kMaxWeight);
  }
  for (const auto& [backend, zone] : zones) {
    if (zone.empty() || !std::binary_search(backends_.begin(), backends_.end(), backend)) continue;
    zones_[backend] = zone;
  }
}

BackendSet BackendSet::Restrict(std::vector<Backend> keep) const {
  // O(k log n) for k kept of n: a client's subset is read on every wake of
  // its stream, and the whole set's weights and zones can be large.
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  keep.erase(std::remove_if(keep.begin(), keep.end(),
                            [this](const Backend& backend) {
                              return !std::binary_search(backends_.begin(), backends_.end(),
                                                         backend);
                            }),
             keep.end());
  BackendSet restricted;
  for (const Backend& backend : keep) {
    if (auto it = weights_.find(backend); it != weights_.end()) {
      restricted.weights_.emplace_hint(restricted.weights_.end(), backend, it->second);
    }
    if (auto it = zones_.find(backend); it != zones_.end()) {
      restricted.zones_.emplace_hint(restricted.zones_.end(), backend, it->second);
    }
  }
  restricted.backends_ = std::move(keep);
  return restricted;
}

const std::string& BackendSet::ZoneOf(const Backend& backend) const {
  static const std::string* const kNone = new std::string();
  auto it = zones_.find(backend);
  return it == zones_.end() ? *kNone : it->second;
}

uint32_t BackendSet::WeightOf(const Backend& backend) const {
  auto it = weights_.find(backend);
  return it == weights_.end() ? 1 : it->second;
}

std::string BackendSet::ToString() const {
  if (backends_.empty()) return "(none)";
  return absl::StrJoin(backends_, ",", [this](std::string* out, const Backend& backend) {
    out->append(backend.ToString());
    if (const uint32_t weight = WeightOf(backend); weight != 1) absl::StrAppend(out, "*", weight);
  });
}

std::string DescribeChange(const BackendSet& before, const BackendSet& after, size_t limit) {
  std::vector<std::string> changes;
  size_t more = 0;
  const auto& a = before.backends();
  const auto& b = after.backends();
  auto i = a.begin();
  auto j = b.begin();
  // Both are sorted: one merge pass finds what was added and what was removed.
  while (i != a.end() || j != b.end()) {
    std::string change;
    if (j == b.end() || (i != a.end() && *i < *j)) {
      change = "-" + (i++)->ToString();
    } else if (i == a.end() || *j < *i) {
      change = "+" + (j++)->ToString();
    } else {
      const uint32_t weight = after.WeightOf(*j);
      if (before.WeightOf(*i) == weight) {
        ++i;
        ++j;
        continue;
      }
      change = absl::StrCat("~", j->ToString(), "*", weight);  // a new weight
      ++i;
      ++j;
    }
    if (changes.size() < limit) {
      changes.push_back(std::move(change));
    } else {
      ++more;
    }
  }
  if (changes.empty()) return "(no change)";
  std::string text = absl::StrJoin(changes, " ");
  if (more > 0) absl::StrAppend(&text, " ... and ", more, " more");
  return text;
}

absl::StatusOr<BackendSet> ParseBackendList(absl::string_view text) {
  std::vector<Backend> backends;
  const bool multiline = text.find('\n') != absl::string_view::npos;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    for (absl::string_view entry :
         absl::StrSplit(line, absl::ByAnyChar(", \t\r"), absl::SkipEmpty())) {
      absl::StatusOr<Backend> backend = ParseBackend(entry);
      if (!backend.ok()) {
        if (!multiline) return backend.status();
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_number, ": ", backend.status().message()));
      }
      backends.push_back(*std::move(backend));
    }
  }
  return BackendSet(std::move(backends));
}

}  // namespace jawlb::discovery
