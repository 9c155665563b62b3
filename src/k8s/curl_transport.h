// CurlIo and CurlTransport: HTTP to the Kubernetes API server over libcurl.
//
// CurlIo is the one Kubernetes I/O thread: an event loop around a curl multi
// handle that runs every request of every user — the list and watch of each
// service watched — and every user's timers (backoffs, retries). Requests are
// multiplexed over one HTTP/2 connection where the server offers it (curl opens
// another only when the server's limit of streams per connection is reached;
// against an HTTP/1.1 server each open watch needs a connection of its own,
// still all on this thread). Users hold a CurlTransport each, whose callbacks
// run on the I/O thread: a watched service costs a few objects and a transfer,
// never a thread.
//
// TLS is always verified unless the ClusterAccess says insecure (only a
// kubeconfig can). Bearer tokens come from a TokenSource at each request, so a
// rotated token file is picked up; after a 401 the file is re-read and the
// request retried once. Tokens are never logged.
//
// Threading: CurlIo is thread-safe and owns its thread; it must outlive every
// transport it made. CurlTransport is thread-safe (see HttpTransport). The
// ApiMonitor is borrowed and beaten by the loop at least once a second, so a
// callback that blocks the I/O thread shows as stuck to the liveness probe.
#ifndef JAWLB_K8S_CURL_TRANSPORT_H_
#define JAWLB_K8S_CURL_TRANSPORT_H_

#include <atomic>
#include <functional>
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
  // hears of every request and is beaten while the loop runs.
  static absl::StatusOr<std::unique_ptr<CurlIo>> Start(const ClusterAccess& access,
                                                       ApiMonitor* monitor = nullptr);
  // Stops the thread. REQUIRES: every transport cancelled or destroyed.
  ~CurlIo();
  CurlIo(const CurlIo&) = delete;
  CurlIo& operator=(const CurlIo&) = delete;

  // A transport for one user.
  std::unique_ptr<HttpTransport> NewTransport();

  // One transfer; one user's state (its tokens, whether it cancelled). Both
  // live on the I/O thread.
  struct Request;
  struct User;

 private:
  friend class CurlTransport;
  CurlIo(const ClusterAccess& access, ApiMonitor* monitor);
  void Run();
  // Runs `command` on the I/O thread, in order; false when the loop stopped.
  bool Post(std::function<void()> command) ABSL_LOCKS_EXCLUDED(mu_);
  bool OnIoThread() const { return std::this_thread::get_id() == thread_.get_id(); }

  // The I/O thread only, below.
  // Runs the queued commands; true when there were any.
  bool RunCommands() ABSL_LOCKS_EXCLUDED(mu_);
  // Runs the timers due at `now`; returns when the next one is due.
  absl::Time RunTimers(absl::Time now);
  // Ends streams silent past their stall timeout.
  void EndStalled(absl::Time now);
  void StartRequest(const std::shared_ptr<Request>& request);
  // Removes a transfer curl reported done (`code`: a CURLcode, or kStalled)
  // and runs its `done`.
  static constexpr int kStalled = -1;
  void Finish(Request& request, int code);
  // Drops the user's transfers and timers without running their callbacks.
  void Drop(const User& user);
  void Cleanup(Request& request);

  const ClusterAccess access_;
  TokenSource tokens_;  // one for every user: a rotated token is read once
  ApiMonitor* const monitor_;
  void* multi_ = nullptr;  // CURLM*

  absl::Mutex mu_;
  std::vector<std::function<void()>> commands_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // I/O thread only: the transfers in the multi handle, by easy handle; the
  // timers by when they are due.
  struct Timer {
    std::shared_ptr<User> user;
    HttpTransport::Task task;
  };
  std::map<void*, std::shared_ptr<Request>> running_;
  std::multimap<absl::Time, Timer> timers_;
  bool received_ = false;  // a transfer got data since the loop last looked
  std::thread thread_;
};

class CurlTransport final : public HttpTransport {
 public:
  ~CurlTransport() override;

  // HttpTransport:
  void Get(std::string path, OnDone done) override;
  void Stream(std::string path, absl::Duration stall_timeout, OnData on_data, OnDone done) override;
  void After(absl::Duration delay, Task task) override;
  void Cancel() override;

 private:
  friend class CurlIo;
  explicit CurlTransport(CurlIo& io);
  void Submit(std::shared_ptr<CurlIo::Request> request);

  CurlIo& io_;
  const std::shared_ptr<CurlIo::User> user_;
  // Anything was handed to the I/O thread. A transport never used has
  // nothing there: Cancel() returns at once (a service unit made and dropped
  // unstarted costs its completion-queue thread no wait).
  std::atomic<bool> used_{false};
};

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_CURL_TRANSPORT_H_
