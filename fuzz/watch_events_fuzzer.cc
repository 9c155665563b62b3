// libFuzzer target: what the API server sends a Reflector — a list page, then
// a watch stream of newline-separated JSON events arriving in chunks of any
// size — through a ServiceView into the BackendSet clients would get. The
// input's first line is the list's body; the rest is the watch stream, cut
// into chunks at each 0x01 byte (removed). Both APIs are played: the same
// bytes as EndpointSlices and as Endpoints. Whatever the bytes: no crash, no
// sanitizer report, and every set delivered is sorted, without duplicates,
// with weights in range.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "spdlog/spdlog.h"

#include "discovery/backend_set.h"
#include "discovery/service_view.h"
#include "k8s/reflector.h"
#include "tests/fakes/fake_transport.h"

namespace {

void CheckSet(const jawlb::discovery::BackendSet& set) {
  const auto& backends = set.backends();
  for (size_t i = 1; i < backends.size(); ++i) {
    if (!(backends[i - 1] < backends[i])) abort();
  }
  for (const auto& [backend, weight] : set.weights()) {
    if (weight < 2 || weight > jawlb::discovery::BackendSet::kMaxWeight) abort();
  }
}

void Play(jawlb::discovery::EndpointsApi api, absl::string_view list,
          const std::vector<std::string>& chunks) {
  jawlb::k8s::FakeTransport transport;
  transport.AddBody(std::string(list));
  transport.AddStream(chunks);
  jawlb::discovery::ServiceView view(
      api, "grpc", [](jawlb::discovery::BackendSet set, absl::Time) { CheckSet(set); });
  jawlb::k8s::Reflector::Options options;
  options.path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices";
  options.label_selector = "kubernetes.io/service-name=echo";
  jawlb::k8s::Reflector reflector(transport, view, options);
  reflector.Start();
  transport.RunUntil([] { return false; });  // until the script and its timers run out
  reflector.Stop();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // a warning per bad event: noise here
    return true;
  }();
  (void)quiet;
  const absl::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t newline = in.find('\n');
  const absl::string_view list = in.substr(0, newline);
  const absl::string_view stream =
      newline == absl::string_view::npos ? absl::string_view() : in.substr(newline + 1);
  const std::vector<std::string> chunks = absl::StrSplit(stream, '\x01');
  for (const auto api : {jawlb::discovery::EndpointsApi::kEndpointSlices,
                         jawlb::discovery::EndpointsApi::kEndpoints}) {
    Play(api, list, chunks);
  }
  return 0;
}
