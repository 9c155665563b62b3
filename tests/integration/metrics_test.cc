// /metrics judged by a real Prometheus parser (python3-prometheus-client), and
// its numbers followed as a client connects, backends change and the client
// leaves; /debug/state's view of the Kubernetes source.
#include <cstdio>
#include <fstream>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include <simdjson.h>

#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/kube_api.h"
#include "testbed/lb_stream.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;
using ::testing::Contains;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(60);

// Sample → value, keyed as the parser prints them: `name{k="v",...}`.
using Samples = std::map<std::string, double>;

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto api = KubeApi::Start(KUBEAPI_BINARY, dir_, KUBECTL_BINARY);
    ASSERT_THAT(api, IsOk());
    api_ = *std::move(api);
    ASSERT_THAT(api_->Put("endpointslices",
                          EndpointSliceJson("echo-a", "echo", 50051, {{"10.0.0.1", "ready"}})),
                IsOk());
    auto jawlb = JawlbProcess::Start(JAWLB_BINARY,
                                     {"JAWLB_SERVICE=echo", "KUBECONFIG=" + api_->kubeconfig()},
                                     dir_ + "/jawlb.log");
    ASSERT_THAT(jawlb, IsOk());
    jawlb_ = *std::move(jawlb);
  }

  std::string Get(const std::string& path) {
    absl::StatusOr<std::pair<int, std::string>> got =
        HttpGet(absl::StrCat("http://127.0.0.1:", jawlb_->admin_port(), path));
    EXPECT_THAT(got, IsOk());
    if (!got.ok()) return "";
    EXPECT_EQ(got->first, 200) << path << ": " << got->second;
    return got->second;
  }

  // Scrapes /metrics and has the parser read it; a parse failure fails the test.
  Samples Scrape() {
    const std::string file = dir_ + "/metrics.txt";
    std::ofstream(file) << Get("/metrics");
    FILE* pipe = popen(absl::StrCat(PYTHON3, " ", PARSE_METRICS, " ", file).c_str(), "r");
    std::string output;
    char buffer[4096];
    while (pipe != nullptr && fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
    const int status = pipe == nullptr ? -1 : pclose(pipe);
    EXPECT_EQ(status, 0) << output;
    Samples samples;
    for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
      const size_t space = line.rfind(' ');
      double value = 0;
      if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &value)) {
        ADD_FAILURE() << "parser printed " << line;
        continue;
      }
      samples[std::string(line.substr(0, space))] = value;
    }
    return samples;
  }

  // Scrapes until `check` holds (or the deadline passes); returns the last scrape.
  Samples WaitFor(const std::function<bool(Samples&)>& check) {
    const absl::Time deadline = absl::Now() + kWait;
    Samples samples = Scrape();
    while (!check(samples) && absl::Now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      samples = Scrape();
    }
    EXPECT_TRUE(check(samples)) << jawlb_->process().Output();
    return samples;
  }

  const std::string dir_ = MakeTempDir("metrics_test.");
  std::unique_ptr<KubeApi> api_;
  std::unique_ptr<JawlbProcess> jawlb_;
};

TEST_F(MetricsTest, NumbersMoveWithClientsAndBackends) {
  const std::string service = R"(service="default/echo")";
  Samples m = WaitFor([](Samples& s) { return s["jawlb_ready{}"] == 1; });
  EXPECT_EQ(m["jawlb_clients{}"], 0);
  EXPECT_EQ(m["jawlb_backends_sent{" + service + "}"], 1);
  EXPECT_EQ(m["jawlb_backends_known{" + service + "}"], 1);
  EXPECT_EQ(m["jawlb_list_updates_total{}"], 1);
  EXPECT_EQ(m["jawlb_list_encode_seconds_count{}"], 1);
  EXPECT_EQ(m["jawlb_kubernetes_lists_total{}"], 1);
  EXPECT_GE((m[R"(jawlb_kubernetes_requests_total{code="200",verb="GET"})"]), 2);  // API + list
  EXPECT_GE(m[R"(jawlb_kubernetes_request_duration_seconds_count{verb="GET"})"], 2);
  EXPECT_GT(m["process_resident_memory_bytes{}"], 1 << 20);
  EXPECT_GT(m["process_open_fds{}"], 3);
  EXPECT_GT(m["process_start_time_seconds{}"], 1.7e9);
  EXPECT_GE(m["process_cpu_seconds_total{}"], 0);
  const double cpu_before = m["process_cpu_seconds_total{}"];

  // A client connects and gets the list.
  LbStream lb(jawlb_->port(), {}, "echo:50051");
  grpc::lb::v1::LoadBalanceResponse response;
  ASSERT_TRUE(lb.ReadList(&response));
  m = WaitFor([](Samples& s) {
    return s["jawlb_clients{}"] == 1 && s["jawlb_server_lists_written_total{}"] == 1;
  });
  EXPECT_EQ(m["jawlb_streams_started_total{}"], 1);
  EXPECT_GT(m["jawlb_server_list_bytes_written_total{}"], 0);
  // Its first list is no change reaching it: no propagation time yet.
  EXPECT_EQ(m[R"(jawlb_list_propagation_seconds_bucket{le="+Inf"})"], 0);

  // Backends change: one more ready, one not ready (known, not sent).
  ASSERT_THAT(api_->Put("endpointslices", EndpointSliceJson("echo-a", "echo", 50051,
                                                            {{"10.0.0.1", "ready"},
                                                             {"10.0.0.2", "notready"},
                                                             {"10.0.0.3", "ready"}})),
              IsOk());
  ASSERT_TRUE(lb.ReadList(&response));
  EXPECT_EQ(response.server_list().servers_size(), 2);
  m = WaitFor([&service](Samples& s) {
    return s["jawlb_backends_known{" + service + "}"] == 3 &&
           s["jawlb_server_lists_written_total{}"] == 2;
  });
  EXPECT_EQ(m["jawlb_backends_sent{" + service + "}"], 2);
  EXPECT_EQ(m["jawlb_list_updates_total{}"], 2);
  EXPECT_EQ(m["jawlb_list_version{}"], 2);
  EXPECT_EQ(m["jawlb_list_propagation_seconds_count{}"], 1);
  EXPECT_GE(m[R"(jawlb_kubernetes_watch_events_total{type="MODIFIED"})"], 1);
  EXPECT_GE(m["process_cpu_seconds_total{}"], cpu_before);

  // The client reports its load.
  grpc::lb::v1::LoadBalanceRequest report;
  report.mutable_client_stats()->set_num_calls_started(7);
  report.mutable_client_stats()->set_num_calls_finished(5);
  auto* drop = report.mutable_client_stats()->add_calls_finished_with_drop();
  drop->set_load_balance_token("jawlb-no-backends");
  drop->set_num_calls(2);
  ASSERT_TRUE(lb.rw->Write(report));
  m = WaitFor([](Samples& s) { return s["jawlb_client_stats_reports_total{}"] == 1; });
  EXPECT_EQ(m["jawlb_client_calls_started_total{}"], 7);
  EXPECT_EQ(m["jawlb_client_calls_finished_total{}"], 5);
  EXPECT_EQ(m["jawlb_client_calls_dropped_total{}"], 2);
  EXPECT_EQ(m[R"(jawlb_client_calls_dropped_by_token_total{token="jawlb-no-backends"})"], 2);
  EXPECT_EQ(m["jawlb_clients_reporting_load{}"], 1);
  EXPECT_GT(m[R"(jawlb_client_call_rate{kind="started"})"], 0);

  // It leaves.
  lb.context.TryCancel();
  m = WaitFor([](Samples& s) {
    return s["jawlb_clients{}"] == 0 && s[R"(jawlb_streams_ended_total{code="CANCELLED"})"] == 1;
  });

  // The state page's view of the source: the resourceVersion and every
  // endpoint with its conditions.
  const std::string state = Get("/debug/state");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  ASSERT_EQ(parser.parse(state).get(root), simdjson::SUCCESS) << state;
  EXPECT_FALSE(std::string_view(root["kubernetes"]["resource_version"]).empty()) << state;
  std::vector<std::string> endpoints;
  for (simdjson::dom::element e : simdjson::dom::array(root["endpoints"])) {
    endpoints.push_back(absl::StrCat(
        std::string(std::string_view(e["address"])), " ready=", int(bool(e["ready"])),
        " sent=", int(bool(e["sent"])), " ", std::string(std::string_view(e["object"]))));
  }
  EXPECT_THAT(endpoints, Contains("10.0.0.2:50051 ready=0 sent=0 echo-a")) << state;
  EXPECT_THAT(endpoints, Contains("10.0.0.3:50051 ready=1 sent=1 echo-a")) << state;
  EXPECT_THAT(Get("/"), HasSubstr("10.0.0.2:50051"));
}

// A failing API server shows in the error and request counters, and the list
// stays: nothing known is lost.
TEST_F(MetricsTest, ApiErrorsAreCountedByReason) {
  WaitFor([](Samples& s) { return s["jawlb_ready{}"] == 1; });
  ASSERT_THAT(api_->Control("/tokens?set=rotated-away"), IsOk());  // every request now 401
  ASSERT_THAT(api_->Control("/fault/expire"), IsOk());             // ends the watch with 410
  // One scrape is not one instant: families are read one after another, so
  // the request and the error it caused may land in different scrapes.
  Samples m = WaitFor([](Samples& s) {
    return s[R"(jawlb_kubernetes_errors_total{operation="list",reason="unauthenticated"})"] >= 1 &&
           s[R"(jawlb_kubernetes_requests_total{code="401",verb="GET"})"] >= 1;
  });
  EXPECT_GE(m[R"(jawlb_kubernetes_watch_restarts_total{reason="expired"})"], 1);
  EXPECT_EQ(m[R"(jawlb_backends_sent{service="default/echo"})"], 1);
  EXPECT_EQ(m["jawlb_ready{}"], 1);
}

}  // namespace
}  // namespace jawlb::testbed
