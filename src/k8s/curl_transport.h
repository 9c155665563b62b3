// CurlIo and CurlTransport: HTTP to the Kubernetes API server over libcurl.
//
// CurlIo is the one Kubernetes I/O thread: a curl multi handle runs every
// request of every user — the list and watch of each service watched — and
// multiplexes them over one HTTP/2 connection where the server offers it (curl
// opens another only when the server's limit of streams per connection is
// reached; against an HTTP/1.1 server each open watch needs a connection of its
// own, still all on this thread). Users get a CurlTransport each: its Get() and
// Stream() block the user's thread (a reflector's) while the I/O thread does
// the work, and data reaches the user's callback on the user's thread.
//
// TLS is always verified unless the ClusterAccess says insecure (only a
// kubeconfig can). Bearer tokens come from a TokenSource at each request, so a
// rotated token file is picked up; after a 401 the file is re-read and the
// request retried once. Tokens are never logged.
//
// Threading: CurlIo is thread-safe and owns its thread; it must outlive every
// transport it made. A CurlTransport is used by one thread at a time, except
// Cancel(), which is thread-safe. The ApiMonitor is borrowed and beaten by the
// I/O thread at least once a second.
#ifndef JAWLB_K8S_CURL_TRANSPORT_H_
#define JAWLB_K8S_CURL_TRANSPORT_H_

#include <atomic>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "k8s/api_monitor.h"
#include "k8s/cluster_access.h"
#include "k8s/http_transport.h"

namespace jawlb::k8s {

class CurlIo {
 public:
  // InvalidArgument when the server URL is not http(s). `monitor` (may be null)
  // hears of every request and is beaten while the thread runs.
  static absl::StatusOr<std::unique_ptr<CurlIo>> Start(const ClusterAccess& access,
                                                       ApiMonitor* monitor = nullptr);
  // Stops the thread. REQUIRES: no request in flight (transports cancelled or
  // idle).
  ~CurlIo();
  CurlIo(const CurlIo&) = delete;
  CurlIo& operator=(const CurlIo&) = delete;

  // A transport for one user.
  std::unique_ptr<HttpTransport> NewTransport();

  // One request in flight; shared by its caller and the I/O thread.
  struct Request;

 private:
  friend class CurlTransport;
  CurlIo(const ClusterAccess& access, ApiMonitor* monitor);
  void Run();
  // Hands `request` to the I/O thread (which owns its easy handle from then).
  void Submit(std::shared_ptr<Request> request) ABSL_LOCKS_EXCLUDED(mu_);
  // Asks the I/O thread to end `request` early; it completes as aborted.
  void Abort(std::shared_ptr<Request> request) ABSL_LOCKS_EXCLUDED(mu_);
  // Takes queued submissions and aborts into the multi handle (I/O thread).
  void TakeCommands() ABSL_LOCKS_EXCLUDED(mu_);
  // Finishes a transfer curl reported done, or one aborted (I/O thread).
  void Complete(Request& request, int code);

  const ClusterAccess access_;
  ApiMonitor* const monitor_;
  void* multi_ = nullptr;  // CURLM*

  absl::Mutex mu_;
  std::vector<std::shared_ptr<Request>> to_add_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Request>> to_abort_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // I/O thread only: the transfers in the multi handle, by easy handle.
  std::map<void*, std::shared_ptr<Request>> running_;
  std::thread thread_;
};

class CurlTransport final : public HttpTransport {
 public:
  ~CurlTransport() override;

  // HttpTransport:
  absl::StatusOr<HttpResponse> Get(const std::string& path) override;
  absl::StatusOr<HttpResponse> Stream(const std::string& path, absl::Duration stall_timeout,
                                      const OnData& on_data) override;
  void Cancel() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  friend class CurlIo;
  explicit CurlTransport(CurlIo& io);
  absl::StatusOr<HttpResponse> Perform(const std::string& path, absl::Duration stall_timeout,
                                       const OnData* on_data);
  absl::StatusOr<HttpResponse> PerformOnce(const std::string& path, absl::Duration stall_timeout,
                                           const OnData* on_data) ABSL_LOCKS_EXCLUDED(mu_);
  // A request for `path`, its easy handle set up (null if curl fails).
  std::shared_ptr<CurlIo::Request> MakeRequest(const std::string& path, absl::Duration timeout,
                                               bool streaming);
  // Waits for `request`, handing a streamed body to `on_data` on this thread,
  // until it is done, the reader stops, it stalls, or it is cancelled.
  enum class Ending { kDone, kStoppedByReader, kStalled };
  Ending Deliver(CurlIo::Request& request, absl::Duration stall_timeout, const OnData* on_data)
      ABSL_LOCKS_EXCLUDED(mu_);

  CurlIo& io_;
  TokenSource tokens_;  // the user's thread only
  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<CurlIo::Request> active_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_CURL_TRANSPORT_H_
