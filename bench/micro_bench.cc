// Micro-benchmarks of the steps a change goes through inside jawlb: decoding
// an EndpointSlice, building the backend set, encoding the ServerList once, and
// the Hub waking every subscribed stream.
#include <atomic>
#include <map>
#include <memory>
#include <vector>

#include <benchmark/benchmark.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <simdjson.h>

#include "balancer/subset_planner.h"
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

// A weighted list of n backends, 100 of them (one EndpointSlice) at weight 3:
// what a change of a large weighted service costs on the source's thread.
void BM_WeightedOrder(benchmark::State& state) {
  std::vector<discovery::Backend> backends;
  std::map<discovery::Backend, uint32_t> weights;
  for (int64_t i = 0; i < state.range(0); ++i) {
    backends.push_back(*discovery::MakeBackend(
        absl::StrCat("10.", i / 65536, ".", i / 256 % 256, ".", i % 256), 8080));
    if (i < 100) weights[backends.back()] = 3;
  }
  const discovery::BackendSet set(backends, weights);
  for (auto _ : state) {
    benchmark::DoNotOptimize(grpclb::WeightedOrder(set, grpclb::WeightedEntryCap(set.size())));
  }
}
BENCHMARK(BM_WeightedOrder)->Arg(1000)->Arg(30000)->Unit(benchmark::kMillisecond);

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

// One re-plan after load reports changed (SubsetPolicy does one at most every
// 5 s, on a completion-queue thread under its lock): N clients of Zipf-spread
// rates over 100 backends, k = 10, the policy's move budget max(8, N/50).
void BM_SubsetReplan(benchmark::State& state) {
  balancer::SubsetPlanner planner(10);
  std::vector<discovery::Backend> backends = Backends(100).backends();
  planner.SetBackends(backends);
  const int clients = static_cast<int>(state.range(0));
  for (int i = 0; i < clients; ++i) {
    planner.AddClient(static_cast<uint64_t>(i + 1), absl::StrCat("10.1.", i / 250, ".", i % 250),
                      absl::UnixEpoch());
    planner.SetRate(static_cast<uint64_t>(i + 1), 1000.0 / (i + 1));
  }
  planner.Replan(1'000'000);  // settled
  const size_t budget = std::max<size_t>(8, static_cast<size_t>(clients) / 50);
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    // Rates that changed since: every seventh client doubles or halves.
    ++round;
    for (int i = round % 7; i < clients; i += 7) {
      planner.SetRate(static_cast<uint64_t>(i + 1), 1000.0 / (i + 1) * (round % 2 ? 2.0 : 0.5));
    }
    state.ResumeTiming();
    planner.Replan(budget);
    planner.TakeChanged();
  }
}
BENCHMARK(BM_SubsetReplan)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace jawlb

BENCHMARK_MAIN();
