// HttpRequest: a plain HTTP request from a test or the demo (jawlb's admin
// pages, the test API server's control port), with libcurl.
//
// Threading: a free function; blocks the calling thread.
#ifndef JAWLB_TOOLS_TESTBED_HTTP_H_
#define JAWLB_TOOLS_TESTBED_HTTP_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"

namespace jawlb::testbed {

// `method` `url` with `body` (none when empty): (HTTP status, response body).
// Unavailable when nothing answers within 30 s.
absl::StatusOr<std::pair<int, std::string>> HttpRequest(const std::string& method,
                                                        const std::string& url,
                                                        const std::string& body = "");

inline absl::StatusOr<std::pair<int, std::string>> HttpGet(const std::string& url) {
  return HttpRequest("GET", url);
}

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_HTTP_H_
