#include "k8s/cluster_access.h"

#include <fstream>
#include <sstream>
#include <vector>

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace jawlb::k8s {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Base64 as kubeconfig's *-data fields use it.
absl::StatusOr<std::string> DecodeBase64(absl::string_view field, const std::string& text) {
  std::string out;
  if (!absl::Base64Unescape(absl::StripAsciiWhitespace(text), &out)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not base64"));
  }
  return out;
}

// One kubeconfig file, parsed.
struct KubeconfigFile {
  std::string path;
  std::string dir;
  YAML::Node root;
};

// The named entry ("clusters", "users", "contexts") with `name`, from the first
// file that has one.
std::pair<YAML::Node, const KubeconfigFile*> FindNamed(const std::vector<KubeconfigFile>& files,
                                                       const char* list, const char* inner,
                                                       const std::string& name) {
  for (const KubeconfigFile& file : files) {
    const YAML::Node entries = file.root[list];
    if (!entries || !entries.IsSequence()) continue;  // an absent key is an invalid node
    for (const YAML::Node& entry : entries) {
      if (entry["name"] && entry["name"].as<std::string>() == name && entry[inner]) {
        return {entry[inner], &file};
      }
    }
  }
  return {YAML::Node(), nullptr};
}

std::string Field(const YAML::Node& node, const char* key) {
  return node[key] && node[key].IsScalar() ? node[key].as<std::string>() : "";
}

std::string Resolve(const KubeconfigFile& file, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  return absl::StrCat(file.dir, "/", path);
}

absl::StatusOr<ClusterAccess> FromFiles(const std::vector<KubeconfigFile>& files,
                                        const std::string& context_override) {
  std::string context_name = context_override;
  for (const KubeconfigFile& file : files) {
    if (!context_name.empty()) break;
    context_name = Field(file.root, "current-context");
  }
  const std::string where =
      absl::StrCat("kubeconfig ", files.front().path, files.size() > 1 ? " (and others)" : "");
  if (context_name.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(where, ": no current-context set"));
  }
  auto [context, context_file] = FindNamed(files, "contexts", "context", context_name);
  if (context_file == nullptr) {
    return absl::NotFoundError(absl::StrCat(where, ": context \"", context_name, "\" not found"));
  }
  ClusterAccess access;
  access.origin = absl::StrCat(where, ", context ", context_name);
  access.default_namespace = Field(context, "namespace");
  const std::string cluster_name = Field(context, "cluster");
  auto [cluster, cluster_file] = FindNamed(files, "clusters", "cluster", cluster_name);
  if (cluster_file == nullptr) {
    return absl::NotFoundError(absl::StrCat(where, ": cluster \"", cluster_name, "\" not found"));
  }
  access.server = Field(cluster, "server");
  if (access.server.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": cluster \"", cluster_name, "\" has no server"));
  }
  access.insecure = Field(cluster, "insecure-skip-tls-verify") == "true";
  access.ca_file = Resolve(*cluster_file, Field(cluster, "certificate-authority"));
  if (std::string data = Field(cluster, "certificate-authority-data"); !data.empty()) {
    absl::StatusOr<std::string> pem = DecodeBase64("certificate-authority-data", data);
    if (!pem.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", pem.status().message()));
    }
    access.ca_pem = *pem;
  }
  const std::string user_name = Field(context, "user");
  auto [user, user_file] = FindNamed(files, "users", "user", user_name);
  if (user_file != nullptr) {
    access.token = Field(user, "token");
    access.token_file = Resolve(*user_file, Field(user, "tokenFile"));
    access.client_cert_file = Resolve(*user_file, Field(user, "client-certificate"));
    access.client_key_file = Resolve(*user_file, Field(user, "client-key"));
    for (auto [key, out] : {std::pair{"client-certificate-data", &access.client_cert_pem},
                            std::pair{"client-key-data", &access.client_key_pem}}) {
      if (std::string data = Field(user, key); !data.empty()) {
        absl::StatusOr<std::string> pem = DecodeBase64(key, data);
        if (!pem.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": ", pem.status().message()));
        }
        *out = *pem;
      }
    }
    if (user["exec"] || user["auth-provider"]) {
      return absl::UnimplementedError(absl::StrCat(
          where, ": user \"", user_name,
          "\" authenticates with exec/auth-provider, which jawlb does not run; use a token or a "
          "client certificate"));
    }
  }
  return access;
}

}  // namespace

absl::StatusOr<ClusterAccess> LoadInCluster(const std::string& host, const std::string& port,
                                            const std::string& account_dir) {
  ClusterAccess access;
  const std::string host_text = absl::StrContains(host, ':') ? absl::StrCat("[", host, "]") : host;
  access.server = absl::StrCat("https://", host_text, ":", port.empty() ? "443" : port);
  access.token_file = account_dir + "/token";
  access.ca_file = account_dir + "/ca.crt";
  access.origin = "in-cluster service account";
  if (!FileExists(access.token_file) || !FileExists(access.ca_file)) {
    return absl::FailedPreconditionError(
        absl::StrCat("in a pod (KUBERNETES_SERVICE_HOST is set) but ", account_dir,
                     " has no token and ca.crt: is automountServiceAccountToken off?"));
  }
  if (absl::StatusOr<std::string> ns = ReadFile(account_dir + "/namespace"); ns.ok()) {
    access.default_namespace = std::string(absl::StripAsciiWhitespace(*ns));
  }
  return access;
}

absl::StatusOr<ClusterAccess> LoadKubeconfig(const std::string& kubeconfig,
                                             const std::string& context,
                                             absl::FunctionRef<const char*(const char*)> getenv) {
  std::vector<std::string> paths;
  for (absl::string_view path : absl::StrSplit(kubeconfig, ':', absl::SkipEmpty())) {
    paths.emplace_back(path);
  }
  if (paths.empty()) {
    const char* home = getenv("HOME");
    paths.push_back(absl::StrCat(home != nullptr ? home : "", "/.kube/config"));
  }
  std::vector<KubeconfigFile> files;
  for (const std::string& path : paths) {
    if (!FileExists(path)) continue;
    const size_t slash = path.rfind('/');
    KubeconfigFile file{path, slash == std::string::npos ? "." : path.substr(0, slash), {}};
    try {
      file.root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": ", e.what()));
    }
    if (!file.root.IsMap()) {
      return absl::InvalidArgumentError(absl::StrCat("kubeconfig ", path, ": not a YAML mapping"));
    }
    files.push_back(std::move(file));
  }
  if (files.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no kubeconfig found (looked at ", absl::StrJoin(paths, ", "), ")"));
  }
  try {
    return FromFiles(files, context);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", files.front().path, ": ", e.what()));
  }
}

std::string TokenSource::Current() {
  if (file_.empty()) return token_;
  struct stat st;
  const int64_t stamp = stat(file_.c_str(), &st) == 0
                            ? static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 +
                                  st.st_mtim.tv_nsec + static_cast<int64_t>(st.st_ino)
                            : -2;
  absl::MutexLock lock(&mu_);
  if (stamp != cached_stamp_) {
    absl::StatusOr<std::string> text = ReadFile(file_);
    if (text.ok()) {
      cached_ = std::string(absl::StripAsciiWhitespace(*text));
      cached_stamp_ = stamp;
    }
  }
  return cached_;
}

void TokenSource::Invalidate() {
  absl::MutexLock lock(&mu_);
  cached_stamp_ = -1;
}

}  // namespace jawlb::k8s
