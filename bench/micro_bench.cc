// Micro-benchmarks of the steps a change goes through inside jawlb: decoding
// an EndpointSlice, building the backend set, encoding the ServerList once, and
// the Hub waking every subscribed stream.
#include <atomic>
#include <memory>
#include <vector>

#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <simdjson.h>

#include "discovery/backend_set.h"
#include "discovery/endpoints_decoder.h"
#include "grpclb/hub.h"
#include "grpclb/server_list.h"

namespace jawlb {
namespace {

std::string Address(int i) {
  return absl::StrCat("10.", (i >> 16) & 255, ".", (i >> 8) & 255, ".", i & 255);
}

// An EndpointSlice as the API server sends it, with `n` ready endpoints.
std::string SliceJson(int n) {
  std::vector<std::string> endpoints;
  for (int i = 0; i < n; ++i) {
    endpoints.push_back(absl::StrCat(
        R"({"addresses":[")", Address(i), R"("],"conditions":{"ready":true,"serving":true,)",
        R"("terminating":false},"nodeName":"node-)", i % 50, R"(","targetRef":{"kind":"Pod",)",
        R"("namespace":"default","name":"echo-)", i, R"(","uid":"0b3f6a2e-1111-2222-3333-)", i,
        R"("}})"));
  }
  return absl::StrCat(
      R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"echo-abc",)"
      R"("namespace":"default","resourceVersion":"12345","labels":{"kubernetes.io/service-name":)"
      R"("echo","endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io"}},)"
      R"("addressType":"IPv4","ports":[{"name":"grpc","port":50051,"protocol":"TCP"}],)"
      R"("endpoints":[)",
      absl::StrJoin(endpoints, ","), "]}");
}

discovery::BackendSet Backends(int n, int offset = 0) {
  std::vector<discovery::Backend> backends;
  for (int i = 0; i < n; ++i)
    backends.push_back(*discovery::MakeBackend(Address(i + offset), 50051));
  return discovery::BackendSet(std::move(backends));
}

void BM_ParseAndDecodeSlice(benchmark::State& state) {
  const std::string json = SliceJson(static_cast<int>(state.range(0)));
  simdjson::dom::parser parser;
  for (auto _ : state) {
    simdjson::dom::element element;
    if (parser.parse(json).get(element) != simdjson::SUCCESS) state.SkipWithError("parse");
    auto decoded =
        discovery::DecodeEndpointsObject(discovery::EndpointsApi::kEndpointSlices, element, "grpc");
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * json.size()));
}
BENCHMARK(BM_ParseAndDecodeSlice)->Arg(100)->Arg(1000);

void BM_BuildBackendSet(benchmark::State& state) {
  std::vector<discovery::Backend> backends;
  for (int i = 0; i < state.range(0); ++i) {
    // Reverse order: the set sorts.
    backends.push_back(
        *discovery::MakeBackend(Address(static_cast<int>(state.range(0)) - i), 50051));
  }
  for (auto _ : state) {
    discovery::BackendSet set(backends);
    benchmark::DoNotOptimize(set);
  }
}
BENCHMARK(BM_BuildBackendSet)->Arg(100)->Arg(1000)->Arg(10000);

void BM_EncodeServerList(benchmark::State& state) {
  const discovery::BackendSet set = Backends(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    grpc::ByteBuffer bytes = grpclb::Serialize(grpclb::MakeServerListResponse(set));
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK(BM_EncodeServerList)->Arg(10)->Arg(100)->Arg(1000);

// A subscriber that only counts its wakes (a stream would start a write).
class CountingSubscriber final : public grpclb::Hub::Subscriber {
 public:
  void OnHubChanged() override { wakes.fetch_add(1, std::memory_order_relaxed); }
  std::atomic<int64_t> wakes{0};
};

void BM_HubPublish(benchmark::State& state) {
  grpclb::Hub hub;
  std::vector<std::shared_ptr<CountingSubscriber>> subscribers;
  std::vector<std::unique_ptr<grpclb::Hub::Subscription>> subscriptions;
  for (int i = 0; i < state.range(0); ++i) {
    subscribers.push_back(std::make_shared<CountingSubscriber>());
    subscriptions.push_back(hub.Subscribe(subscribers.back()));
  }
  const discovery::BackendSet a = Backends(5);
  const discovery::BackendSet b = Backends(6);
  bool flip = false;
  for (auto _ : state) {
    hub.Publish((flip = !flip) ? a : b);
  }
  state.counters["wakes/publish"] =
      static_cast<double>(subscribers[0]->wakes.load()) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_HubPublish)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace jawlb

BENCHMARK_MAIN();
