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
  explicit Watched(std::shared_ptr<K8sSource::ApiChoice> choice) {
    auto owned = std::make_unique<k8s::FakeTransport>();
    transport = owned.get();
    K8sSource::Options options;
    options.namespace_ = "ns";
    options.service = "echo";
    options.target_port = "grpc";
    options.api_choice = std::move(choice);
    source = std::make_unique<K8sSource>(std::move(owned), options);
  }
  k8s::FakeTransport* transport;  // owned by `source`
  std::unique_ptr<K8sSource> source;
  std::vector<BackendSet> updates;
};

TEST(K8sSourceTest, AsksWhichApiOnceAndSharesTheAnswer) {
  auto choice = std::make_shared<K8sSource::ApiChoice>();
  Watched first(choice);
  first.transport->Add({absl::UnavailableError("connection refused"), {}, {}});
  first.transport->AddBody(R"({"kind":"APIResourceList","resources":[{"name":"endpointslices"}]})");
  first.transport->AddBody(kSlices);
  ASSERT_TRUE(first.source
                  ->Start([&](BackendSet backends, absl::Time) {
                    first.updates.push_back(std::move(backends));
                  })
                  .ok());
  ASSERT_TRUE(first.transport->RunUntil([&] { return !first.updates.empty(); }));
  const std::vector<std::string>& paths = first.transport->Paths();
  ASSERT_GE(paths.size(), 3u);
  EXPECT_EQ(paths[0], "/apis/discovery.k8s.io/v1");  // refused: asked again after a backoff
  EXPECT_EQ(paths[1], "/apis/discovery.k8s.io/v1");
  EXPECT_THAT(paths[2], HasSubstr("/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices?"));
  EXPECT_EQ(first.updates[0].size(), 1u);
  EXPECT_EQ(first.source->ObjectCount(), 1u);

  // The next service's source goes straight to its list.
  Watched second(choice);
  second.transport->AddBody(kSlices);
  ASSERT_TRUE(second.source
                  ->Start([&](BackendSet backends, absl::Time) {
                    second.updates.push_back(std::move(backends));
                  })
                  .ok());
  ASSERT_TRUE(second.transport->RunUntil([&] { return !second.updates.empty(); }));
  EXPECT_THAT(second.transport->Paths()[0],
              HasSubstr("/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices?"));
  first.source->Stop();
  second.source->Stop();
}

}  // namespace
}  // namespace jawlb::discovery
