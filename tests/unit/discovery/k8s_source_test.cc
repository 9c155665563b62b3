#include "discovery/k8s_source.h"

#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/fakes/fake_transport.h"

namespace jawlb::discovery {
namespace {

using ::testing::HasSubstr;

constexpr char kSlices[] =
    R"({"kind":"EndpointSliceList","metadata":{"resourceVersion":"7"},"items":[)"
    R"({"metadata":{"name":"echo-a","resourceVersion":"7",)"
    R"("labels":{"kubernetes.io/service-name":"echo"}},"addressType":"IPv4",)"
    R"("endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true}}],)"
    R"("ports":[{"name":"grpc","port":50051}]}]})";

// A source on a scripted transport (the fake runs it on this thread).
struct Watched {
  explicit Watched(std::shared_ptr<K8sSource::ApiChoice> choice,
                   bool missing_is_not_found = false) {
    auto owned = std::make_unique<k8s::FakeTransport>();
    transport = owned.get();
    K8sSource::Options options;
    options.namespace_ = "ns";
    options.service = "echo";
    options.target_port = "grpc";
    options.api_choice = std::move(choice);
    options.missing_is_not_found = missing_is_not_found;
    source = std::make_unique<K8sSource>(std::move(owned), options);
  }
  k8s::FakeTransport* transport;  // owned by `source`
  std::unique_ptr<K8sSource> source;
  std::vector<Update> updates;
  Source::OnUpdate Collect() {
    return [this](Update update) { updates.push_back(std::move(update)); };
  }
};

TEST(K8sSourceTest, AsksWhichApiOnceAndSharesTheAnswer) {
  auto choice = std::make_shared<K8sSource::ApiChoice>();
  Watched first(choice);
  first.transport->Add({absl::UnavailableError("connection refused"), {}, {}});
  first.transport->AddBody(R"({"kind":"APIResourceList","resources":[{"name":"endpointslices"}]})");
  first.transport->AddBody(kSlices);
  ASSERT_TRUE(first.source->Start(first.Collect()).ok());
  ASSERT_TRUE(first.transport->RunUntil([&] { return !first.updates.empty(); }));
  const std::vector<std::string>& paths = first.transport->Paths();
  ASSERT_GE(paths.size(), 3u);
  EXPECT_EQ(paths[0], "/apis/discovery.k8s.io/v1");  // refused: asked again after a backoff
  EXPECT_EQ(paths[1], "/apis/discovery.k8s.io/v1");
  EXPECT_THAT(paths[2], HasSubstr("/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices?"));
  EXPECT_EQ(first.updates[0].backends.size(), 1u);
  EXPECT_TRUE(first.updates[0].status.ok());
  ASSERT_TRUE(first.source->WatchCounts().has_value());
  EXPECT_EQ(first.source->WatchCounts()->lists, 1u);
  EXPECT_EQ(first.source->WatchCounts()->errors.size(), 1u);  // the refused discovery

  // The next service's source goes straight to its list.
  Watched second(choice);
  second.transport->AddBody(kSlices);
  ASSERT_TRUE(second.source->Start(second.Collect()).ok());
  ASSERT_TRUE(second.transport->RunUntil([&] { return !second.updates.empty(); }));
  EXPECT_THAT(second.transport->Paths()[0],
              HasSubstr("/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices?"));
  first.source->Stop();
  second.source->Stop();
}

constexpr char kNoSlices[] =
    R"({"kind":"EndpointSliceList","metadata":{"resourceVersion":"7"},"items":[]})";

TEST(K8sSourceTest, NoEndpointsObjectsIsAnEmptySetOrNotFoundAsAsked) {
  auto choice = std::make_shared<K8sSource::ApiChoice>();
  choice->Set(EndpointsApi::kEndpointSlices);
  // Single mode: the Service may be created later; its clients wait with an
  // empty list.
  Watched waiting(choice);
  waiting.transport->AddBody(kNoSlices);
  ASSERT_TRUE(waiting.source->Start(waiting.Collect()).ok());
  ASSERT_TRUE(waiting.transport->RunUntil([&] { return !waiting.updates.empty(); }));
  EXPECT_TRUE(waiting.updates[0].status.ok());
  EXPECT_EQ(waiting.updates[0].backends.size(), 0u);
  waiting.source->Stop();

  // Multi mode: the name came from a client; the update says the Service is
  // not there, and nothing is watched.
  Watched missing(choice, /*missing_is_not_found=*/true);
  missing.transport->AddBody(kNoSlices);
  ASSERT_TRUE(missing.source->Start(missing.Collect()).ok());
  ASSERT_TRUE(missing.transport->RunUntil([&] { return !missing.updates.empty(); }));
  EXPECT_EQ(missing.updates[0].status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.updates[0].status.message(), HasSubstr("service ns/echo not found"));
  EXPECT_EQ(missing.transport->Paths().size(), 1u);  // the list, and no watch
  missing.source->Stop();
}

}  // namespace
}  // namespace jawlb::discovery
