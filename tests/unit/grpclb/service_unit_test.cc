// One service's pipeline on a source the test drives.
#include "grpclb/service_unit.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_source.h"

namespace jawlb::grpclb {
namespace {

// `count` backends 10.0.0.x:port.
discovery::BackendSet Backends(int count, uint16_t port = 80) {
  std::vector<discovery::Backend> backends;
  for (int i = 1; i <= count; ++i) {
    backends.push_back(*discovery::MakeBackend(absl::StrCat("10.0.0.", i), port));
  }
  return discovery::BackendSet(std::move(backends));
}

struct Driven {
  explicit Driven(ServiceUnit::Options options) {
    auto owned = std::make_unique<discovery::FakeSource>();
    source = owned.get();
    unit = std::make_unique<ServiceUnit>(std::move(options), std::move(owned));
  }
  discovery::FakeSource* source;  // the unit's
  std::unique_ptr<ServiceUnit> unit;
};

// A stream's view: on every wake, the list its subset policy gives it.
class Watcher final : public Hub::Subscriber, public SubsetPolicy::Member {
 public:
  explicit Watcher(ServiceUnit& unit) : unit_(unit) {}
  void OnHubChanged() override {
    seen.push_back({unit_.hub().Latest()->backends, unit_.policy().ListFor(id)});
  }
  void OnSubsetChanged() override {}
  uint64_t id = 0;
  // What each wake saw: the Hub's set, and the client's own list.
  std::vector<std::pair<discovery::BackendSet, discovery::BackendSet>> seen;

 private:
  ServiceUnit& unit_;
};

TEST(ServiceUnitTest, ThePolicyHasTheSetBeforeTheHubWakesTheStreams) {
  ServiceUnit::Options options;
  options.key = "ns/svc";
  options.max_servers = 1;
  Driven driven(options);
  ASSERT_TRUE(driven.unit->Start(nullptr).ok());  // wakes run on the publishing thread
  auto watcher = std::make_shared<Watcher>(*driven.unit);
  auto subscription = driven.unit->hub().Subscribe(watcher);
  watcher->id = driven.unit->policy().Join("10.1.1.1/svc", watcher);
  driven.source->Deliver(Backends(2, 80));
  driven.source->Deliver(Backends(2, 81));
  ASSERT_EQ(watcher->seen.size(), 2u);
  for (const auto& [hub, own] : watcher->seen) {
    ASSERT_EQ(own.size(), 1u);
    // The client's own list comes from the set the Hub woke it for.
    EXPECT_EQ(own.backends()[0].port, hub.backends()[0].port);
  }
  driven.unit->policy().Leave(watcher->id);
}

TEST(ServiceUnitTest, SetsAreFilteredAndTheFirstListIsAnnouncedOnce) {
  int announced = 0;
  ServiceUnit::Options options;
  options.key = "file";
  options.filter = [](discovery::BackendSet set) {
    std::vector<discovery::Backend> kept;
    for (const discovery::Backend& b : set.backends()) {
      if (b.port != 9999) kept.push_back(b);
    }
    return discovery::BackendSet(std::move(kept));
  };
  options.on_first_list = [&announced] { ++announced; };
  Driven driven(options);
  ASSERT_TRUE(driven.unit->Start(nullptr).ok());
  EXPECT_EQ(announced, 0);
  driven.source->Deliver(*discovery::ParseBackendList("10.0.0.1:80,10.0.0.2:9999"));
  driven.source->Deliver(Backends(3));
  EXPECT_EQ(announced, 1);
  EXPECT_EQ(driven.unit->hub().Latest()->backends.size(), 3u);
  EXPECT_EQ(driven.unit->hub().Latest()->version, 2u);
  EXPECT_EQ(driven.unit->health(), std::nullopt);  // no health checks
}

TEST(ServiceUnitTest, AnUpdateSayingTheServiceIsMissingClosesTheHubWithIt) {
  ServiceUnit::Options options;
  options.key = "ns/gone";
  Driven driven(options);
  ASSERT_TRUE(driven.unit->Start(nullptr).ok());
  driven.source->Deliver(discovery::BackendSet(), absl::NotFoundError("service ns/gone not found"));
  const Hub::State state = driven.unit->hub().Current();
  EXPECT_TRUE(state.closed);
  EXPECT_EQ(state.close_reason.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(state.latest, nullptr);  // no list was ever published
}

TEST(ServiceUnitTest, AUnitStoppedBeforeItStartedNeverStarts) {
  ServiceUnit::Options options;
  options.key = "ns/late";
  Driven driven(options);
  driven.unit->Stop();
  EXPECT_EQ(driven.unit->Start(nullptr).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(driven.source->started);
  // Started and stopped: the source is stopped once.
  Driven other(options);
  ASSERT_TRUE(other.unit->Start(nullptr).ok());
  other.unit->Stop();
  other.unit->Stop();
  EXPECT_TRUE(other.source->stopped);
}

// Shedding and re-planning by the unit's clock: virtual time, no sleeps.
TEST(ServiceUnitTest, SheddingFollowsTheClientsDemandInVirtualTime) {
  FakeClock clock;
  ServiceUnit::Options options;
  options.key = "ns/busy";
  options.max_rps_per_backend = 10;  // two backends take 20 calls/s
  options.clock = &clock;
  Driven driven(options);
  ASSERT_TRUE(driven.unit->Start(nullptr).ok());
  driven.source->Deliver(Backends(2));
  const int client = 0;  // any address names a client
  balancer::ClientLoad load(clock.Now(), absl::Seconds(30));
  balancer::LoadReport report;
  report.calls_started = 10000;  // 1,000 calls/s for 10 s
  report.calls_finished = 10000;
  clock.Advance(absl::Seconds(10));
  ASSERT_TRUE(load.Add(report, clock.Now()).ok());
  driven.unit->shedding().Report(&client, load);
  EXPECT_GT(driven.unit->hub().Latest()->drop_percent, 50);
  // Within the evaluation period, nothing is evaluated again.
  balancer::LoadReport quiet;
  clock.Advance(absl::Milliseconds(500));
  ASSERT_TRUE(load.Add(quiet, clock.Now()).ok());
  driven.unit->shedding().Report(&client, load);
  EXPECT_GT(driven.unit->hub().Latest()->drop_percent, 50);
  // The client falls quiet for ten minutes: its demand fades, the drops go.
  for (int i = 0; i < 60; ++i) {
    clock.Advance(absl::Seconds(10));
    ASSERT_TRUE(load.Add(quiet, clock.Now()).ok());
    driven.unit->shedding().Report(&client, load);
  }
  EXPECT_EQ(driven.unit->hub().Latest()->drop_percent, 0);
}

// A unit of 4 backends with one per client (k = 1) on `clock`, and 64
// clients: enough that a light one's link weighs little.
struct SixtyFourClients {
  explicit SixtyFourClients(FakeClock& clock) : driven(Options(clock)) {
    EXPECT_TRUE(driven.unit->Start(nullptr).ok());
    driven.source->Deliver(Backends(4));
    for (int i = 0; i < 64; ++i) {
      ids.push_back(policy().Join(absl::StrCat("10.1.1.", i, "/svc"), std::weak_ptr<Watcher>()));
    }
  }
  ~SixtyFourClients() {
    for (uint64_t id : ids) policy().Leave(id);
  }
  static ServiceUnit::Options Options(FakeClock& clock) {
    ServiceUnit::Options options;
    options.key = "ns/subsets";
    options.max_servers = 1;
    options.clock = &clock;
    return options;
  }
  SubsetPolicy& policy() { return driven.unit->policy(); }

  Driven driven;
  std::vector<uint64_t> ids;
};

TEST(ServiceUnitTest, LoadReportsReplanAtMostEveryPeriodOfTheClock) {
  FakeClock clock;
  SixtyFourClients clients(clock);
  SubsetPolicy& policy = clients.policy();
  const std::vector<uint64_t>& ids = clients.ids;
  // The first report re-plans at once (knowing only its own rate); a period
  // later, with every rate known, everyone is light: one backend each.
  for (uint64_t id : ids) policy.Report(id, 1);
  clock.Advance(SubsetPolicy::kReplanEvery);
  policy.Report(ids[3], 1);
  for (uint64_t id : ids) EXPECT_EQ(policy.ListFor(id).size(), 1u);
  // One turns heavy: nothing moves until the period has passed on the clock.
  policy.Report(ids[0], 1000);
  clock.Advance(SubsetPolicy::kReplanEvery - absl::Milliseconds(1));
  policy.Report(ids[0], 1000);
  EXPECT_EQ(policy.ListFor(ids[0]).size(), 1u);
  clock.Advance(absl::Milliseconds(1));
  policy.Report(ids[0], 1000);
  EXPECT_GT(policy.ListFor(ids[0]).size(), 1u);
}

// An xDS client reports its load on its own LRS stream: the rate reaches the
// ADS streams that joined with its key, split among them, and a membership
// leaves when it goes.
TEST(ServiceUnitTest, LoadReportedByKeyReachesTheStreamsOfThatKey) {
  FakeClock clock;
  SixtyFourClients clients(clock);
  SubsetPolicy& policy = clients.policy();
  const std::vector<uint64_t>& ids = clients.ids;
  const std::string key = "xds/10.9.9.9/ns/subsets";
  std::unique_ptr<SubsetPolicy::Membership> first = policy.JoinScoped(key, {});
  std::unique_ptr<SubsetPolicy::Membership> second = policy.JoinScoped(key, {});
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  for (uint64_t id : ids) policy.Report(id, 1);
  clock.Advance(SubsetPolicy::kReplanEvery);
  policy.ReportByKey(key, 2);  // one call a second each: as light as the rest
  EXPECT_EQ(policy.ListFor(first->id()).size(), 1u);
  EXPECT_EQ(policy.ListFor(second->id()).size(), 1u);
  clock.Advance(SubsetPolicy::kReplanEvery);
  policy.ReportByKey(key, 2000);  // heavy, both
  EXPECT_GT(policy.ListFor(first->id()).size(), 1u);
  EXPECT_GT(policy.ListFor(second->id()).size(), 1u);
  const uint64_t gone = first->id();
  first.reset();
  EXPECT_TRUE(policy.ListFor(gone).empty());
  clock.Advance(SubsetPolicy::kReplanEvery);
  policy.ReportByKey(key, 4000);                     // all of it on the one left
  policy.ReportByKey("xds/10.9.9.8/ns/subsets", 1);  // nobody's: ignored
  EXPECT_GT(policy.ListFor(second->id()).size(), 1u);
  second.reset();
}

TEST(ServiceUnitTest, NoMembershipWithoutSubsetting) {
  ServiceUnit::Options options;
  options.key = "ns/whole";
  Driven driven(options);
  EXPECT_EQ(driven.unit->policy().JoinScoped("xds/10.9.9.9/ns/whole", {}), nullptr);
  driven.unit->policy().ReportByKey("xds/10.9.9.9/ns/whole", 5);
}

}  // namespace
}  // namespace jawlb::grpclb
