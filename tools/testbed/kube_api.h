// KubeApi: the test Kubernetes API server (tests/kubeapi) as a child process,
// with its control port: objects to create, replace and delete, and faults to
// inject. Also runs the real kubectl against it.
//
// Threading: thread-compatible.
#ifndef JAWLB_TOOLS_TESTBED_KUBE_API_H_
#define JAWLB_TOOLS_TESTBED_KUBE_API_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "testbed/subprocess.h"

namespace jawlb::testbed {

class KubeApi {
 public:
  // Starts `binary` writing its CA, token and kubeconfig into `dir`. `kubectl`
  // is the kubectl to run for Kubectl().
  static absl::StatusOr<std::unique_ptr<KubeApi>> Start(
      const std::string& binary, const std::string& dir,
      const std::string& kubectl = "/usr/bin/kubectl",
      const std::string& bookmark_interval = "500ms");

  const std::string& url() const { return url_; }  // https://127.0.0.1:port
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }
  const std::string& dir() const { return dir_; }

  // POST /path?query to the control port ("/fault/drop", "/tokens?set=x").
  absl::Status Control(const std::string& path_and_query);
  // Creates or replaces `json` (an object) of `plural` in `ns`.
  absl::Status Put(const std::string& plural, const std::string& json,
                   const std::string& ns = "default");
  absl::Status Delete(const std::string& plural, const std::string& name,
                      const std::string& ns = "default");
  // One counter from /stats ("lists", "watches", "activeWatches", "unauthorized").
  absl::StatusOr<int> Stat(const std::string& name);

  // Runs kubectl with this server's kubeconfig; returns its output, or an error
  // with the output when it exits non-zero.
  absl::StatusOr<std::string> Kubectl(const std::vector<std::string>& args);

 private:
  KubeApi(std::unique_ptr<Subprocess> process, std::string dir, std::string url,
          std::string control, std::string kubectl)
      : process_(std::move(process)),
        dir_(std::move(dir)),
        url_(std::move(url)),
        control_(std::move(control)),
        kubectl_(std::move(kubectl)) {}
  absl::StatusOr<std::string> Request(const std::string& method, const std::string& path,
                                      const std::string& body);

  std::unique_ptr<Subprocess> process_;
  const std::string dir_;
  const std::string url_;
  const std::string control_;
  const std::string kubectl_;
};

// An EndpointSlice of service `service` named `name` with port "grpc" = `port`
// and one endpoint per address; `state` is "ready", "notready" or "terminating".
std::string EndpointSliceJson(const std::string& name, const std::string& service, int port,
                              const std::vector<std::pair<std::string, std::string>>& endpoints);

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_KUBE_API_H_
