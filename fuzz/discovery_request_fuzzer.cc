// libFuzzer target: an xDS client's DiscoveryRequest as jawlb reads it
// (ReadDiscoveryRequest: the protobuf, the type it names, the bounds on its
// names, the NACK's error, the node cut to size). Whatever the bytes: no
// crash, no sanitizer report, and what is read within its bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "google/protobuf/stubs/logging.h"

#include "grpclb/client_message.h"
#include "xds/discovery_messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // protobuf logs every string that is not UTF-8: noise here, and slow.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(nullptr);
    return true;
  }();
  (void)quiet;
  const std::string message(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<jawlb::xds::DiscoveryRequestRead> read = jawlb::xds::ReadDiscoveryRequest(message);
  if (!read.ok()) return 0;
  if (read->request.names.size() > jawlb::xds::kMaxNamesPerRequest) abort();
  for (const std::string& name : read->request.names) {
    if (name.size() > jawlb::xds::kMaxResourceNameBytes &&
        name.size() > jawlb::grpclb::kMaxNameBytes) {
      abort();
    }
  }
  if (read->node.has_value()) {
    const jawlb::xds::NodeInfo& node = *read->node;
    if (node.id.size() > jawlb::xds::kMaxNodeFieldBytes ||
        node.locality.size() > jawlb::xds::kMaxNodeFieldBytes ||
        node.user_agent.size() > jawlb::xds::kMaxNodeFieldBytes) {
      abort();
    }
  }
  return 0;
}
