// HttpTransport: HTTP GETs to the Kubernetes API server, plain and streaming.
// The seam between the Reflector's protocol logic and the network: CurlTransport
// (curl_transport.h) talks to a real server; tests script faults with
// FakeTransport (tests/fakes/fake_transport.h).
//
// Threading: Get() and Stream() block and are called from one thread (the
// Kubernetes I/O thread); Cancel() may be called from any thread.
#ifndef JAWLB_K8S_HTTP_TRANSPORT_H_
#define JAWLB_K8S_HTTP_TRANSPORT_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace jawlb::k8s {

struct HttpResponse {
  int status = 0;    // HTTP status code
  std::string body;  // the whole body (for Stream(): only when status != 200)
  std::optional<absl::Duration> retry_after;  // from a Retry-After header
};

class HttpTransport {
 public:
  // Receives a streamed body as it arrives, in chunks of any size; returning
  // false ends the stream.
  using OnData = std::function<bool(absl::string_view)>;

  virtual ~HttpTransport() = default;

  // GET `path` ("/api/v1/...?x=y"). Any HTTP status is a response; Unavailable
  // for a transport failure (connect, TLS, timeout), Cancelled after Cancel().
  virtual absl::StatusOr<HttpResponse> Get(const std::string& path) = 0;

  // GET `path` and feed a 200 body to `on_data` until the server ends it, or
  // nothing at all arrives for `stall_timeout` (then DeadlineExceeded), or
  // `on_data` returns false (then OK). A non-200 response is returned whole.
  virtual absl::StatusOr<HttpResponse> Stream(const std::string& path, absl::Duration stall_timeout,
                                              const OnData& on_data) = 0;

  // Makes a blocked Get()/Stream() return Cancelled soon, and every later one
  // at once. Idempotent.
  virtual void Cancel() = 0;
};

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_HTTP_TRANSPORT_H_
