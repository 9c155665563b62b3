// IsDnsLabel: whether `text` is a Kubernetes name of one DNS label — RFC 1123
// (namespaces, port names: lower-case letters, digits and '-', 1-63 characters,
// not starting or ending with '-'), or with `letter_first` RFC 1035 (Service
// names: starting with a letter).
//
// Threading: a pure function.
#ifndef JAWLB_COMMON_DNS_LABEL_H_
#define JAWLB_COMMON_DNS_LABEL_H_

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/string_view.h"

namespace jawlb {

inline bool IsDnsLabel(absl::string_view text, bool letter_first = false) {
  if (text.empty() || text.size() > 63 || text.front() == '-' || text.back() == '-') return false;
  if (letter_first && !absl::ascii_islower(text.front())) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-';
  });
}

}  // namespace jawlb

#endif  // JAWLB_COMMON_DNS_LABEL_H_
