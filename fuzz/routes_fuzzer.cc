// libFuzzer target: a JAWLB_ROUTES file (ParseRoutes: yaml-cpp, then each
// entry as "namespace/service[:port]" or a mapping). Whatever the bytes: no
// crash, no sanitizer report, no exception escaping, and every route it
// accepts names a namespace and a service.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"

#include "routing/service_router.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto routes =
      jawlb::routing::ParseRoutes(absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!routes.ok()) {
    if (routes.status().message().empty()) abort();
    return 0;
  }
  for (const auto& [name, service] : *routes) {
    if (name.empty() || service.namespace_.empty() || service.name.empty()) abort();
  }
  return 0;
}
