// libFuzzer target: a kubeconfig file (LoadKubeconfig: yaml-cpp, then the
// current context's cluster and user, base64 *-data fields, relative paths).
// The input is written to a scratch file, as jawlb reads the real one.
// Whatever the bytes: no crash, no sanitizer report, no exception escaping;
// an identity it accepts has a server and says where it came from, and an
// error names the file.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "absl/strings/match.h"

#include "k8s/cluster_access.h"

namespace {

// A file of this process's own, rewritten for each input.
const std::string& ScratchPath() {
  static const std::string path = [] {
    char name[] = "/tmp/kubeconfig-fuzz-XXXXXX";
    const int fd = mkstemp(name);
    if (fd < 0) abort();
    close(fd);
    return std::string(name);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = ScratchPath();
  FILE* file = fopen(path.c_str(), "wb");
  if (file == nullptr) abort();
  if (size > 0 && fwrite(data, 1, size, file) != size) abort();
  fclose(file);
  const auto access =
      jawlb::k8s::LoadKubeconfig(path, "", [](const char*) -> const char* { return nullptr; });
  if (!access.ok()) {
    if (!absl::StrContains(access.status().message(), path)) abort();
    return 0;
  }
  if (access->server.empty() || access->origin.empty()) abort();
  return 0;
}
