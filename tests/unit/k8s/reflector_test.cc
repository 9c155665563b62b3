#include "k8s/reflector.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/fakes/fake_transport.h"

namespace jawlb::k8s {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records what the reflector does to its store: "replace:a,b", "upsert:a",
// "delete:a", "sync".
class RecordingStore final : public ObjectStore {
 public:
  void Replace(const std::vector<simdjson::dom::element>& objects) override {
    std::vector<std::string> names;
    for (auto object : objects) names.push_back(Name(object));
    Record(absl::StrCat("replace:", absl::StrJoin(names, ",")));
  }
  void Upsert(simdjson::dom::element object) override { Record("upsert:" + Name(object)); }
  void Delete(simdjson::dom::element object) override { Record("delete:" + Name(object)); }
  void Sync(absl::Time) override { Record("sync"); }

  std::vector<std::string> Ops() {
    absl::MutexLock lock(&mu_);
    return ops_;
  }

 private:
  static std::string Name(simdjson::dom::element object) {
    std::string_view name;
    if (object["metadata"]["name"].get(name) != simdjson::SUCCESS) return "?";
    return std::string(name);
  }
  void Record(std::string op) {
    absl::MutexLock lock(&mu_);
    ops_.push_back(std::move(op));
  }
  absl::Mutex mu_;
  std::vector<std::string> ops_ ABSL_GUARDED_BY(mu_);
};

std::string Page(const std::string& rv, const std::string& next,
                 const std::vector<std::string>& names) {
  std::vector<std::string> items;
  for (const std::string& name : names) {
    items.push_back(absl::StrCat(R"({"metadata":{"name":")", name, R"("}})"));
  }
  return absl::StrCat(R"({"kind":"EndpointSliceList","metadata":{"resourceVersion":")", rv,
                      R"(","continue":")", next, R"("},"items":[)", absl::StrJoin(items, ","),
                      "]}");
}

std::string Event(const std::string& type, const std::string& name, const std::string& rv) {
  return absl::StrCat(R"({"type":")", type, R"(","object":{"metadata":{"name":")", name,
                      R"(","resourceVersion":")", rv, R"("}}})", "\n");
}

class ReflectorTest : public ::testing::Test {
 protected:
  Reflector::Options Options() {
    Reflector::Options options;
    options.path = "/apis/discovery.k8s.io/v1/namespaces/ns/endpointslices";
    options.label_selector = "kubernetes.io/service-name=echo";
    options.page_size = 2;
    options.initial_backoff = absl::Milliseconds(1);
    options.max_backoff = absl::Milliseconds(5);
    return options;
  }
  // Runs the reflector until `requests` requests were made, then stops it.
  void RunUntil(size_t requests) {
    Reflector::Options options = Options();
    options.monitor = &monitor_;
    Reflector reflector(transport_, store_, options);
    reflector.Start();
    EXPECT_TRUE(transport_.RunUntilRequests(requests));
    reflector.Stop();
  }

  std::string Metrics() {
    metrics::TextWriter out;
    monitor_.WriteMetrics(out);
    return out.text();
  }

  FakeTransport transport_;
  RecordingStore store_;
  ApiMonitor monitor_;
};

TEST_F(ReflectorTest, PaginatedListThenWatchFromItsVersion) {
  transport_.AddBody(Page("10", "page2", {"a", "b"}));
  transport_.AddBody(Page("10", "", {"c"}));
  RunUntil(3);
  const std::vector<std::string> paths = transport_.Paths();
  EXPECT_THAT(paths[0], HasSubstr("?limit=2&labelSelector=kubernetes.io%2Fservice-name%3Decho"));
  EXPECT_THAT(paths[1], HasSubstr("continue=page2"));
  EXPECT_THAT(paths[2], HasSubstr("watch=1&allowWatchBookmarks=true&resourceVersion=10"));
  EXPECT_THAT(paths[2], HasSubstr("timeoutSeconds="));
  EXPECT_THAT(store_.Ops(), ElementsAre("replace:a,b,c", "sync"));
}

// Multi mode: a client-chosen name that matches nothing costs one list, and
// no watch (issue 13, item 3).
TEST_F(ReflectorTest, AnEmptyFirstListCanEndItThere) {
  transport_.AddBody(Page("10", "", {}));
  Reflector::Options options = Options();
  options.stop_if_first_list_empty = true;
  Reflector reflector(transport_, store_, options);
  reflector.Start();
  EXPECT_FALSE(transport_.RunUntil([] { return false; }));  // until nothing can run
  reflector.Stop();
  EXPECT_EQ(transport_.Paths().size(), 1u);
  EXPECT_THAT(store_.Ops(), ElementsAre("replace:", "sync"));
}

// A watch line that never ends would buffer without bound: past 16 MiB the
// watch is dropped and resumed (issue 13, item 13).
TEST_F(ReflectorTest, AnEndlessWatchEventIsCutAndTheWatchResumed) {
  transport_.AddBody(Page("10", "", {"a"}));
  transport_.AddStream({std::string(17 << 20, 'x')});
  RunUntil(3);
  EXPECT_THAT(transport_.Paths()[2], HasSubstr("resourceVersion=10"));
  EXPECT_THAT(store_.Ops(), ElementsAre("replace:a", "sync"));
  EXPECT_THAT(Metrics(), HasSubstr(R"(jawlb_kubernetes_watch_restarts_total{reason="error"} 1)"));
}

TEST_F(ReflectorTest, ExpiredContinueTokenRestartsTheList) {
  transport_.AddBody(Page("10", "page2", {"a", "b"}));
  transport_.Add(
      {absl::OkStatus(), {410, R"({"kind":"Status","code":410,"reason":"Expired"})", {}}, {}});
  transport_.AddBody(Page("12", "", {"a"}));
  RunUntil(4);
  EXPECT_THAT(transport_.Paths()[3], HasSubstr("resourceVersion=12"));
  // Never the half list from before the restart.
  EXPECT_THAT(store_.Ops(), ElementsAre("replace:a", "sync"));
}

TEST_F(ReflectorTest, EventsSplitAcrossChunksAndBookmarksAdvanceTheVersion) {
  transport_.AddBody(Page("10", "", {"a"}));
  const std::string added = Event("ADDED", "b", "11");
  transport_.AddStream({added.substr(0, 20), added.substr(20) + Event("MODIFIED", "a", "12"),
                        Event("BOOKMARK", "", "15"), Event("DELETED", "b", "16").substr(0, 10)});
  RunUntil(3);
  // The truncated DELETED never applies; the resume starts after the bookmark.
  EXPECT_THAT(transport_.Paths()[2], HasSubstr("resourceVersion=15"));
  EXPECT_THAT(store_.Ops(),
              ElementsAre("replace:a", "sync", "upsert:b", "upsert:a", "sync", "sync"));
}

TEST_F(ReflectorTest, ErrorGoneEventReLists) {
  transport_.AddBody(Page("10", "", {"a"}));
  transport_.AddStream(
      {R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})"
       "\n"});
  transport_.AddBody(Page("20", "", {"b"}));
  RunUntil(4);
  const std::vector<std::string> paths = transport_.Paths();
  EXPECT_THAT(paths[2], HasSubstr("limit=2"));  // a list, not a watch
  EXPECT_THAT(paths[3], HasSubstr("resourceVersion=20"));
  EXPECT_THAT(store_.Ops(), ElementsAre("replace:a", "sync", "replace:b", "sync"));
}

TEST_F(ReflectorTest, FailuresNeverReachTheStore) {
  transport_.Add({absl::UnavailableError("connection refused"), {}, {}});
  transport_.Add({absl::OkStatus(), {500, R"({"kind":"Status","message":"etcd down"})", {}}, {}});
  transport_.Add({absl::OkStatus(), {429, "", absl::Milliseconds(1)}, {}});
  transport_.AddBody(Page("10", "", {"a"}));
  transport_.AddStream({"{not json\n"});
  transport_.Add({absl::OkStatus(), {503, "", {}}, {}});
  transport_.AddStream({Event("ADDED", "b", "11")});
  RunUntil(8);
  const std::vector<std::string> paths = transport_.Paths();
  EXPECT_THAT(paths[4], HasSubstr("resourceVersion=10"));
  EXPECT_THAT(paths[5], HasSubstr("resourceVersion=10"));  // resumed, not re-listed
  EXPECT_THAT(paths[6], HasSubstr("resourceVersion=10"));
  EXPECT_THAT(paths[7], HasSubstr("resourceVersion=11"));
  EXPECT_THAT(store_.Ops(), ElementsAre("replace:a", "sync", "upsert:b", "sync"));

  // What an operator sees of it.
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("jawlb_kubernetes_lists_total 1\n"));
  EXPECT_THAT(
      metrics,
      HasSubstr("jawlb_kubernetes_errors_total{operation=\"list\",reason=\"unavailable\"} 2\n"));
  EXPECT_THAT(metrics,
              HasSubstr("jawlb_kubernetes_errors_total{operation=\"list\",reason=\"resource_"
                        "exhausted\"} 1\n"));
  EXPECT_THAT(
      metrics,
      HasSubstr("jawlb_kubernetes_errors_total{operation=\"watch\",reason=\"data_loss\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("jawlb_kubernetes_watch_restarts_total{reason=\"error\"} 2\n"));
  EXPECT_THAT(metrics, HasSubstr("jawlb_kubernetes_watch_events_total{type=\"ADDED\"} 1\n"));
  EXPECT_EQ(monitor_.progress().resource_version, "11");
}

TEST_F(ReflectorTest, RestartReasonsAreCounted) {
  transport_.AddBody(Page("10", "", {"a"}));
  transport_.AddStream({Event("BOOKMARK", "", "11")});  // ends as asked: a renewal
  transport_.AddStream({R"({"type":"ERROR","object":{"kind":"Status","code":410}})"
                        "\n"});
  transport_.AddBody(Page("20", "", {"a"}));
  RunUntil(5);
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("jawlb_kubernetes_watch_restarts_total{reason=\"timeout\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("jawlb_kubernetes_watch_restarts_total{reason=\"expired\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("jawlb_kubernetes_lists_total 2\n"));
}

// Retries wait: backoff doubling from the initial delay, capped, reset once a
// list succeeds; a Retry-After from the server wins (capped at five minutes).
TEST_F(ReflectorTest, RetriesBackOffAndHonourRetryAfter) {
  transport_.Add({absl::UnavailableError("connection refused"), {}, {}});
  transport_.Add({absl::UnavailableError("connection refused"), {}, {}});
  transport_.Add({absl::OkStatus(), {500, "", {}}, {}});
  transport_.Add({absl::OkStatus(), {500, "", {}}, {}});
  transport_.Add({absl::OkStatus(), {429, "", absl::Seconds(7)}, {}});
  transport_.Add({absl::OkStatus(), {503, "", absl::Hours(1)}, {}});
  transport_.AddBody(Page("10", "", {"a"}));
  transport_.Add({absl::UnavailableError("connection reset"), {}, {}});
  RunUntil(9);
  const std::vector<absl::Duration>& delays = transport_.Delays();
  ASSERT_EQ(delays.size(), 8u);  // the start, then one per failure
  EXPECT_EQ(delays[0], absl::ZeroDuration());
  // Backoff of 1, 2, 4, 5 (the cap) ms, each ±25%, never past the cap.
  for (int i : {1, 2, 3, 4}) {
    const absl::Duration step = std::min(absl::Milliseconds(1 << (i - 1)), absl::Milliseconds(5));
    EXPECT_GE(delays[i], step * 0.75) << i;
    EXPECT_LE(delays[i], std::min(step * 1.25, absl::Milliseconds(5))) << i;
  }
  EXPECT_EQ(delays[5], absl::Seconds(7));
  EXPECT_EQ(delays[6], absl::Minutes(5));
  // After the list succeeded, the watch's failure starts small again.
  EXPECT_LE(delays[7], absl::Milliseconds(1) * 1.25);
  EXPECT_THAT(transport_.Paths()[8], HasSubstr("resourceVersion=10"));
}

// Stop() ends everything: nothing reaches the store afterwards, and no request
// or timer is left.
TEST_F(ReflectorTest, NothingRunsAfterStop) {
  transport_.AddBody(Page("10", "", {"a"}));
  {
    Reflector reflector(transport_, store_, Options());
    reflector.Start();
    reflector.Stop();
  }
  EXPECT_FALSE(transport_.RunUntilRequests(1));
  EXPECT_TRUE(store_.Ops().empty());
}

TEST(HttpErrorTest, MapsStatusAndKeepsTheServersMessage) {
  const absl::Status status = HttpError(
      "list x", {403, R"({"kind":"Status","message":"endpointslices is forbidden"})", {}});
  EXPECT_TRUE(absl::IsPermissionDenied(status));
  EXPECT_THAT(status.message(), HasSubstr("list x: HTTP 403: endpointslices is forbidden"));
  EXPECT_TRUE(absl::IsNotFound(HttpError("x", {404, "not json", {}})));
  EXPECT_TRUE(absl::IsResourceExhausted(HttpError("x", {429, "", {}})));
  EXPECT_TRUE(absl::IsUnavailable(HttpError("x", {503, "", {}})));
}

}  // namespace
}  // namespace jawlb::k8s
