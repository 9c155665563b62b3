// How one text value of a setting is checked and stored: ports, counts and
// durations within ranges, hosts, log levels, on/off and names of enums. Each
// returns InvalidArgument saying what is wrong with the value (the caller
// names the setting).
//
// Threading: pure functions.
#ifndef JAWLB_CONFIG_VALUES_H_
#define JAWLB_CONFIG_VALUES_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace jawlb::config {

inline absl::Status Invalid(absl::string_view why) { return absl::InvalidArgumentError(why); }

// One of `names` (as the environment spells them) into `out`.
template <typename E>
absl::Status SetEnum(absl::string_view text, const std::vector<std::pair<const char*, E>>& names,
                     const char* what, E& out) {
  std::vector<std::string> known;
  for (const auto& [name, value] : names) {
    if (text == name) {
      out = value;
      return absl::OkStatus();
    }
    known.emplace_back(name);
  }
  return Invalid(absl::StrCat("not ", what, " (", absl::StrJoin(known, ", "), ")"));
}

template <typename E>
absl::string_view NameIn(const std::vector<std::pair<const char*, E>>& names, E value) {
  for (const auto& [name, v] : names) {
    if (v == value) return name;
  }
  return "?";
}

absl::Status SetPort(absl::string_view text, uint16_t& out);

absl::Status SetCount(absl::string_view text, size_t& out);

absl::Status SetCountIn(absl::string_view text, size_t min, size_t max, size_t& out);

// A duration within [min, max], or 0 when `zero_ok` (the setting's "never" or
// "at once"). Every duration has a range: gRPC takes some as int milliseconds,
// and a value past its range would silently mean something else.
absl::Status SetDurationIn(absl::string_view text, absl::Duration min, absl::Duration max,
                           bool zero_ok, absl::Duration& out);

// Durations an operator may mean in hours (grace periods, ages, timeouts).
absl::Status SetDuration(absl::string_view text, absl::Duration& out);

absl::Status SetHost(absl::string_view text, std::string& out);

absl::Status SetLogLevel(absl::string_view text, std::string& out);

absl::Status SetOnOff(absl::string_view text, bool& out);

absl::Status SetString(absl::string_view text, std::string& out);

}  // namespace jawlb::config

#endif  // JAWLB_CONFIG_VALUES_H_
