#include "admin/http_request.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace jawlb::admin {
namespace {

RequestHead Refused(int status, const char* reason, std::string message) {
  RequestHead head;
  head.state = RequestHead::State::kRefused;
  head.status = status;
  head.reason = reason;
  head.message = std::move(message);
  return head;
}

}  // namespace

RequestHead ReadRequestHead(absl::string_view in, size_t max_bytes) {
  const size_t end = in.find("\r\n\r\n");
  if (end == absl::string_view::npos && in.size() <= max_bytes) return {};
  if (end == absl::string_view::npos || end > max_bytes) {
    return Refused(431, "too_large",
                   absl::StrCat("request line and headers over ", max_bytes, " bytes\n"));
  }
  const std::vector<absl::string_view> lines = absl::StrSplit(in.substr(0, end), "\r\n");
  const std::vector<absl::string_view> first = absl::StrSplit(lines[0], ' ');
  if (first.size() != 3 || !absl::StartsWith(first[2], "HTTP/1.") || first[1].empty()) {
    return Refused(400, "malformed", "not an HTTP/1 request\n");
  }
  if (first[0] != "GET" && first[0] != "HEAD") {
    return Refused(405, "method", "only GET and HEAD\n");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    const std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    const absl::string_view value = absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
    int64_t length = 0;
    if ((name == "content-length" && (!absl::SimpleAtoi(value, &length) || length != 0)) ||
        name == "transfer-encoding") {
      return Refused(413, "too_large", "no request here takes a body\n");
    }
  }
  RequestHead head;
  head.state = RequestHead::State::kComplete;
  head.request.method = std::string(first[0]);
  head.request.path = std::string(first[1].substr(0, first[1].find('?')));
  return head;
}

}  // namespace jawlb::admin
