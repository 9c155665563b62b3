// ClusterAccess: where the Kubernetes API server is and how to authenticate to
// it, from inside a pod (service account) or from a kubeconfig. Secrets
// (tokens, keys) are held here and never logged.
//
// Threading: a value type; immutable once loaded. TokenSource is thread-safe.
#ifndef JAWLB_K8S_CLUSTER_ACCESS_H_
#define JAWLB_K8S_CLUSTER_ACCESS_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace jawlb::k8s {

struct ClusterAccess {
  std::string server;  // "https://10.96.0.1:443"
  // Trust: a CA file or PEM data; `insecure` only when a kubeconfig asks for it.
  std::string ca_file;
  std::string ca_pem;
  bool insecure = false;
  // Client certificate (files or PEM data).
  std::string client_cert_file, client_cert_pem;
  std::string client_key_file, client_key_pem;
  // Bearer token: fixed, or read from a file that may be rotated.
  std::string token;
  std::string token_file;
  // The namespace this identity defaults to ("" when the source says nothing).
  std::string default_namespace;
  // Where this came from, for messages: "in-cluster service account" or
  // "kubeconfig /home/x/.kube/config, context prod".
  std::string origin;
};

// In a pod: `host` and `port` (KUBERNETES_SERVICE_HOST / _PORT) and the service
// account files under `account_dir` (normally
// /var/run/secrets/kubernetes.io/serviceaccount). FailedPrecondition when the
// files are missing.
absl::StatusOr<ClusterAccess> LoadInCluster(const std::string& host, const std::string& port,
                                            const std::string& account_dir);

// From kubeconfig files: `kubeconfig` is a colon-separated list (as $KUBECONFIG;
// the first file that sets a key wins), or "" for ~/.kube/config. `context`
// overrides current-context. Relative file paths are relative to the file that
// names them. Errors name the file and the key that is wrong.
absl::StatusOr<ClusterAccess> LoadKubeconfig(const std::string& kubeconfig,
                                             const std::string& context,
                                             absl::FunctionRef<const char*(const char*)> getenv);

// The bearer token to send now: the fixed one, or the token file's content,
// re-read whenever the file changes (bound service account tokens rotate).
class TokenSource {
 public:
  explicit TokenSource(const ClusterAccess& access)
      : token_(access.token), file_(access.token_file) {}

  // "" when there is no token. Never blocks for long (a stat, sometimes a read).
  std::string Current() ABSL_LOCKS_EXCLUDED(mu_);
  // Forget the cached content so the next Current() reads the file again
  // (after a 401).
  void Invalidate() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const std::string token_;
  const std::string file_;
  absl::Mutex mu_;
  std::string cached_ ABSL_GUARDED_BY(mu_);
  int64_t cached_stamp_ ABSL_GUARDED_BY(mu_) = -1;
};

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_CLUSTER_ACCESS_H_
