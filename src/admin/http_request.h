// ReadRequestHead: what the admin port makes of the bytes a connection has
// sent so far — an HTTP/1 request line and headers, nothing more (no handler
// takes a body). A pure function of its input: HttpServer calls it after each
// read, and fuzz/admin_request_fuzzer.cc feeds it whatever bytes there are.
//
// Threading: none of its own; thread-safe.
#ifndef JAWLB_ADMIN_HTTP_REQUEST_H_
#define JAWLB_ADMIN_HTTP_REQUEST_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace jawlb::admin {

struct HttpRequest {
  std::string method;  // GET or HEAD
  std::string path;    // without the query
};

struct RequestHead {
  enum class State {
    kIncomplete,  // the blank line that ends the headers has not arrived
    kComplete,    // `request` holds it
    kRefused,     // answer `status` with `message`; count it under `reason`
  };
  State state = State::kIncomplete;
  HttpRequest request;
  int status = 0;           // 400, 405, 413 or 431
  const char* reason = "";  // the refusal's metric label: "malformed", "method", "too_large"
  std::string message;      // the response body
};

// Reads the head of the request at the start of `in` (the bytes received so
// far), which may hold at most `max_bytes` before its blank line: past that
// it is refused with 431 whether or not it is complete. A request line that
// is not "METHOD PATH HTTP/1.x" is 400; a method other than GET or HEAD is
// 405; a body announced (a non-zero Content-Length, any Transfer-Encoding)
// is 413.
RequestHead ReadRequestHead(absl::string_view in, size_t max_bytes);

}  // namespace jawlb::admin

#endif  // JAWLB_ADMIN_HTTP_REQUEST_H_
