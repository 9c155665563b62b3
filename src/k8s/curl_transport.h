// CurlTransport: HttpTransport over libcurl, for one API server. One easy handle
// is reused for every request, so the connection (HTTP/2 where the server
// offers it) is kept alive between the list and the watches. TLS is always
// verified unless the ClusterAccess says insecure (only a kubeconfig can).
// Bearer tokens come from a TokenSource at each request, so a rotated token
// file is picked up; after a 401 the file is re-read and the request retried
// once. Tokens are never logged.
//
// Threading: thread-compatible, except Cancel(), which is thread-safe. Owns its
// curl handle; borrows the ApiMonitor, which must outlive it.
#ifndef JAWLB_K8S_CURL_TRANSPORT_H_
#define JAWLB_K8S_CURL_TRANSPORT_H_

#include <atomic>
#include <memory>

#include "k8s/api_monitor.h"
#include "k8s/cluster_access.h"
#include "k8s/http_transport.h"

namespace jawlb::k8s {

class CurlTransport final : public HttpTransport {
 public:
  // InvalidArgument when the server URL is not http(s). `monitor` (may be null)
  // hears of every request and is beaten while requests run.
  static absl::StatusOr<std::unique_ptr<CurlTransport>> Create(const ClusterAccess& access,
                                                               ApiMonitor* monitor = nullptr);
  ~CurlTransport() override;

  // HttpTransport:
  absl::StatusOr<HttpResponse> Get(const std::string& path) override;
  absl::StatusOr<HttpResponse> Stream(const std::string& path, absl::Duration stall_timeout,
                                      const OnData& on_data) override;
  void Cancel() override { cancelled_.store(true); }

 private:
  CurlTransport(const ClusterAccess& access, ApiMonitor* monitor);
  absl::StatusOr<HttpResponse> Perform(const std::string& path, absl::Duration stall_timeout,
                                       const OnData* on_data);
  absl::StatusOr<HttpResponse> PerformOnce(const std::string& path, absl::Duration stall_timeout,
                                           const OnData* on_data);

  // Constant after construction.
  const ClusterAccess access_;
  ApiMonitor* const monitor_;
  TokenSource tokens_;
  void* curl_ = nullptr;  // CURL*, confined to the calling thread
  std::atomic<bool> cancelled_{false};
};

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_CURL_TRANSPORT_H_
