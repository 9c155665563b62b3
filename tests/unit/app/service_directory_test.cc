#include "app/service_directory.h"

#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/subprocess.h"
#include "tests/common/eventually.h"
#include "tests/common/status_matchers.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_source.h"

namespace jawlb::app {
namespace {

using ::jawlb::testing::Eventually;
using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::HasSubstr;

// A unit on a source the test drives; `on_start` runs when the directory
// starts it.
std::shared_ptr<grpclb::ServiceUnit> MakeUnit(std::string key,
                                              std::function<void()> on_start = nullptr) {
  grpclb::ServiceUnit::Options options;
  options.key = std::move(key);
  return std::make_shared<grpclb::ServiceUnit>(
      options, std::make_unique<discovery::FakeSource>(std::move(on_start)));
}

class ServiceDirectoryTest : public ::testing::Test {
 protected:
  std::unique_ptr<ServiceDirectory> Start(const std::string& routes_file = "",
                                          size_t max_services = 1000, size_t per_peer = 50) {
    ServiceDirectory::Options options;
    options.max_services = max_services;
    options.max_services_per_peer = per_peer;
    options.router.default_namespace = "prod";
    options.routes_file = routes_file;
    options.idle_timeout = kIdle;
    options.janitor_period = absl::Milliseconds(1);  // real: how soon a pass follows
    options.forget_closed_after = kForget;
    options.clock = &clock_;
    auto directory =
        ServiceDirectory::Start(options,
                                [this](const routing::ServiceRef& service)
                                    -> absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> {
                                  ++made_;
                                  if (service.name == "broken")
                                    return absl::InternalError("no transport");
                                  return MakeUnit(service.Key(), [this] {
                                    // Started outside the directory's lock:
                                    // looking at it here does not deadlock.
                                    if (ServiceDirectory* d = directory_.load(); d != nullptr)
                                      d->Describe();
                                    ++started_;
                                  });
                                });
    EXPECT_THAT(directory, IsOk());
    directory_ = directory.ok() ? directory->get() : nullptr;
    return directory.ok() ? *std::move(directory) : nullptr;
  }

  // Waits until the janitor has made `passes` more passes (it reads the
  // clock once a pass).
  void WaitForPasses(int passes = 2) {
    const uint64_t until = clock_.reads() + static_cast<uint64_t>(passes);
    EXPECT_TRUE(Eventually([&] { return clock_.reads() >= until; }));
  }

  static constexpr absl::Duration kIdle = absl::Minutes(5);
  static constexpr absl::Duration kForget = absl::Seconds(10);
  FakeClock clock_;
  std::atomic<ServiceDirectory*> directory_{nullptr};
  std::atomic<int> made_{0};
  std::atomic<int> started_{0};
  const std::string dir_ = testbed::MakeTempDir("service_directory_test.");
};

TEST_F(ServiceDirectoryTest, ClientsOfAServiceShareOneUnitDroppedWhenIdle) {
  auto directory = Start();
  auto a = directory->Resolve("checkout:50051");
  auto b = directory->Resolve("checkout.prod.svc.cluster.local");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(made_.load(), 1);
  EXPECT_EQ(started_.load(), 1);
  EXPECT_EQ(directory->Describe().size(), 1u);
  EXPECT_EQ(directory->Describe()[0].streams, 2);
  a->reset();
  b->reset();
  WaitForPasses();  // the janitor has seen it idle
  clock_.Advance(kIdle - absl::Seconds(1));
  WaitForPasses();
  EXPECT_EQ(directory->Describe().size(), 1u);  // not yet
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(Eventually([&] { return directory->Describe().empty(); }));
  ASSERT_THAT(directory->Resolve("checkout"), IsOk());  // made afresh
  EXPECT_EQ(made_.load(), 2);
}

TEST_F(ServiceDirectoryTest, AUnitInUseIsNeverDropped) {
  auto directory = Start();
  auto held = directory->Resolve("checkout");
  ASSERT_THAT(held, IsOk());
  for (int i = 0; i < 3; ++i) {  // three idle timeouts
    clock_.Advance(kIdle);
    WaitForPasses();
    ASSERT_EQ(directory->Describe().size(), 1u);
  }
  // Once the stream lets go it is idle, even while a report (metrics,
  // /debug/state) still holds the unit: only streams count as use.
  held->reset();
  const std::vector<grpclb::UnitUse> report = directory->Describe();
  ASSERT_EQ(report.size(), 1u);
  EXPECT_EQ(report[0].streams, 0);
  WaitForPasses();
  clock_.Advance(kIdle);
  EXPECT_TRUE(Eventually([&] { return directory->Describe().empty(); }));
}

TEST_F(ServiceDirectoryTest, RefusalsAndFailuresSayWhy) {
  auto directory = Start();
  EXPECT_THAT(directory->Resolve("x.kube-system"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("kube-system")));
  EXPECT_THAT(directory->Resolve("broken"),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr("cannot watch service prod/broken: no transport")));
  metrics::TextWriter out;
  directory->WriteMetrics(out);
  EXPECT_THAT(out.text(),
              HasSubstr(R"(jawlb_service_names_refused_total{code="PERMISSION_DENIED"} 1)"));
}

TEST_F(ServiceDirectoryTest, RoutesAreReadAtStartAndAgainWhenTheFileChanges) {
  const std::string file = dir_ + "/routes.yaml";
  std::ofstream(file) << "shop: prod/checkout\n";
  auto directory = Start(file);
  auto routed = directory->Resolve("shop:443");
  ASSERT_THAT(routed, IsOk());
  EXPECT_EQ((*routed)->key(), "prod/checkout");
  // A bad edit keeps the old routes.
  std::ofstream(file) << "shop: [not a route\n";
  EXPECT_TRUE(Eventually([&] {
    metrics::TextWriter out;
    directory->WriteMetrics(out);
    return absl::StrContains(out.text(), "jawlb_routes_errors_total 1");
  }));
  ASSERT_THAT(directory->Resolve("shop"), IsOk());
  EXPECT_EQ((*directory->Resolve("shop"))->key(), "prod/checkout");
  std::ofstream(file) << "shop: prod/payments\n";
  EXPECT_TRUE(Eventually([&] {
    auto now = directory->Resolve("shop");
    return now.ok() && (*now)->key() == "prod/payments";
  }));
  // A file that is wrong at start is an error naming it.
  std::ofstream(file) << "shop: nonsense\n";
  ServiceDirectory::Options options;
  options.routes_file = file;
  EXPECT_THAT(ServiceDirectory::Start(options, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JAWLB_ROUTES=")));
}

TEST_F(ServiceDirectoryTest, AUnitThatFoundNoServiceIsForgottenSoon) {
  auto directory = Start();
  auto held = directory->Resolve("gone");
  ASSERT_THAT(held, IsOk());
  (*held)->hub().Close(absl::NotFoundError("service prod/gone not found"));
  // Clients asking meanwhile get the closed unit (and its NOT_FOUND)...
  auto again = directory->Resolve("gone");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->get(), held->get());
  EXPECT_EQ(made_.load(), 1);
  // ... and after a while the Service is looked for again, even while held.
  WaitForPasses();  // the janitor has seen it closed
  clock_.Advance(kForget);
  EXPECT_TRUE(Eventually([&] { return directory->Describe().empty(); }));
  ASSERT_THAT(directory->Resolve("gone"), IsOk());
  EXPECT_EQ(made_.load(), 2);
}

// Issue 13, item 3: clients choose the names, so units are bounded per client
// address and in all; joining a unit that exists is always allowed.
TEST_F(ServiceDirectoryTest, UnitsAreBoundedPerClientAndInAll) {
  auto directory = Start("", /*max_services=*/3, /*per_peer=*/2);
  auto a = directory->Resolve("a", "ipv4:10.0.0.1");
  auto b = directory->Resolve("b", "ipv4:10.0.0.1");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(
      directory->Resolve("c", "ipv4:10.0.0.1"),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("JAWLB_MAXSERVICESPERPEER")));
  EXPECT_THAT(directory->Resolve("a", "ipv4:10.0.0.1"), IsOk());  // shared, not started
  EXPECT_THAT(directory->Resolve("c", "ipv4:10.0.0.2"), IsOk());
  EXPECT_THAT(directory->Resolve("d", "ipv4:10.0.0.3"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("JAWLB_MAXSERVICES")));
  EXPECT_EQ(made_.load(), 3);
  // Once a unit is dropped (idle), its starter may start another: a and c go,
  // b is held.
  a->reset();
  WaitForPasses();
  clock_.Advance(kIdle);
  EXPECT_TRUE(Eventually([&] { return directory->Describe().size() == 1; }));
  EXPECT_THAT(directory->Resolve("e", "ipv4:10.0.0.1"), IsOk());
}

}  // namespace
}  // namespace jawlb::app
