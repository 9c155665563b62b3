// libFuzzer target: a JAWLB_ENDPOINTSFILE's content (ParseBackendList:
// ip:port endpoints, IPv4 or [IPv6], separated by commas, spaces or newlines,
// with '#' comments). Whatever the bytes: no crash, no sanitizer report; a
// list it accepts is sorted, without duplicates, of 4- or 16-byte addresses
// with a port, and reads back the same from its own rendering.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

#include "discovery/backend_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using jawlb::discovery::BackendSet;
  const absl::StatusOr<BackendSet> set = jawlb::discovery::ParseBackendList(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!set.ok()) {
    if (set.status().message().empty()) abort();
    return 0;
  }
  const auto& backends = set->backends();
  for (size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].port == 0) abort();
    if (backends[i].ip.size() != 4 && backends[i].ip.size() != 16) abort();
    if (i > 0 && !(backends[i - 1] < backends[i])) abort();
  }
  std::string again;
  for (const auto& backend : backends) absl::StrAppend(&again, backend.ToString(), "\n");
  const absl::StatusOr<BackendSet> reread = jawlb::discovery::ParseBackendList(again);
  if (!reread.ok() || *reread != *set) abort();
  return 0;
}
