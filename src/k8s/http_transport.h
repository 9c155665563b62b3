// HttpTransport: asynchronous HTTP GETs to the Kubernetes API server, plain and
// streaming, and timers — everything a Reflector needs to run as callbacks on
// one I/O thread, without a thread of its own. CurlTransport (curl_transport.h)
// talks to a real server; tests script replies and run timers in virtual time
// with FakeTransport (tests/fakes/fake_transport.h).
//
// Threading: the methods may be called from any thread. Every callback runs on
// the transport's I/O thread, one at a time. After Cancel() returns, no
// callback of this transport runs or will run, so its user may be destroyed.
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
  // Receives a streamed 200 body as it arrives, in chunks of any size;
  // returning false ends the stream.
  using OnData = std::function<bool(absl::string_view)>;
  // How a request ended: any HTTP status is a response; Unavailable for a
  // transport failure (connect, TLS, timeout); DeadlineExceeded for a stream
  // silent past its stall timeout.
  using OnDone = std::function<void(absl::StatusOr<HttpResponse>)>;
  using Task = std::function<void()>;

  virtual ~HttpTransport() = default;

  // GET `path` ("/api/v1/...?x=y"); `done` runs once with the whole response.
  virtual void Get(std::string path, OnDone done) = 0;

  // GET `path` and feed a 200 body to `on_data` until the server ends it, or
  // nothing at all arrives for `stall_timeout` (then DeadlineExceeded), or
  // `on_data` returns false (then OK); then `done` runs once. A non-200
  // response goes to `done` whole.
  virtual void Stream(std::string path, absl::Duration stall_timeout, OnData on_data,
                      OnDone done) = 0;

  // Runs `task` on the I/O thread after `delay` (zero: soon).
  virtual void After(absl::Duration delay, Task task) = 0;

  // Ends every request and timer of this transport without running their
  // callbacks; later calls do nothing. Blocks until no callback of this
  // transport runs (from a callback of its own it returns at once). Idempotent.
  virtual void Cancel() = 0;
};

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_HTTP_TRANSPORT_H_
