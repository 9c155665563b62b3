// JsonQuote: a string as a JSON string literal, quotes included. For the few
// JSON documents jawlb writes itself (state page, JSON logs).
//
// Threading: pure function; thread-safe.
#ifndef JAWLB_ADMIN_JSON_H_
#define JAWLB_ADMIN_JSON_H_

#include <string>

#include "absl/strings/string_view.h"

namespace jawlb::admin {

inline std::string JsonQuote(absl::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace jawlb::admin

#endif  // JAWLB_ADMIN_JSON_H_
