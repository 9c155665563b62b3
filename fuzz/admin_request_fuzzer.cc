// libFuzzer target: the bytes a client sends the admin port, as HttpServer
// reads them after each read (ReadRequestHead). Whatever the bytes: no crash,
// no sanitizer report; a request it accepts is a GET or HEAD of a path
// without its query, a refusal is one of the statuses the server documents,
// and what follows the blank line never changes the outcome (a second request
// pipelined behind the first is not read).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"

#include "admin/http_request.h"

namespace {

constexpr size_t kLimit = 8192;

bool Same(const jawlb::admin::RequestHead& a, const jawlb::admin::RequestHead& b) {
  return a.state == b.state && a.status == b.status && a.request.method == b.request.method &&
         a.request.path == b.request.path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using jawlb::admin::RequestHead;
  const absl::string_view in(reinterpret_cast<const char*>(data), size);
  const RequestHead head = jawlb::admin::ReadRequestHead(in, kLimit);
  switch (head.state) {
    case RequestHead::State::kIncomplete:
      if (in.size() > kLimit || in.find("\r\n\r\n") != absl::string_view::npos) abort();
      break;
    case RequestHead::State::kComplete:
      if (head.request.method != "GET" && head.request.method != "HEAD") abort();
      if (head.request.path.empty() && in.find(" ?") == absl::string_view::npos) abort();
      if (head.request.path.find('?') != std::string::npos) abort();
      break;
    case RequestHead::State::kRefused:
      if (head.status != 400 && head.status != 405 && head.status != 413 && head.status != 431) {
        abort();
      }
      if (head.message.empty()) abort();
      break;
  }
  if (head.state != RequestHead::State::kIncomplete && in.size() <= kLimit) {
    const std::string more = std::string(in) + "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n";
    if (!Same(head, jawlb::admin::ReadRequestHead(more, kLimit))) abort();
  }
  return 0;
}
