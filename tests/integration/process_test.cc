// The jawlb binary as an operator runs it: --help, configuration errors,
// SIGTERM, and HTTP/2 keepalive pings from clients.
#include <fstream>
#include <thread>

#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpc/lb/v1/load_balancer.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include <simdjson.h>

#include "discovery/static_source.h"
#include "grpclb/balance_load_service.h"
#include "grpclb/service_unit.h"
#include "testbed/jawlb_process.h"
#include "testbed/lb_stream.h"
#include "testbed/subprocess.h"
#include "tests/common/status_matchers.h"
#include "transport/completion_queues.h"
#include "transport/grpc_calls.h"

namespace jawlb::testbed {
namespace {

using grpc::lb::v1::LoadBalanceRequest;
using grpc::lb::v1::LoadBalanceResponse;
using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(60);

// Runs jawlb to completion; returns (wait status, output).
std::pair<std::optional<int>, std::string> RunJawlb(std::vector<std::string> args,
                                                    std::vector<std::string> env) {
  args.insert(args.begin(), JAWLB_BINARY);
  const std::string dir = MakeTempDir("process_test.");
  auto process = Subprocess::Spawn(args, std::move(env), dir + "/out");
  EXPECT_THAT(process, IsOk());
  if (!process.ok()) return {std::nullopt, ""};
  const absl::Time deadline = absl::Now() + kWait;
  while (!(*process)->Poll().has_value() && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {(*process)->Poll(), (*process)->Output()};
}

TEST(ProcessTest, HelpDocumentsEveryVariable) {
  auto [status, output] = RunJawlb({"--help"}, {});
  EXPECT_TRUE(ExitedWith(status, 0)) << output;
  for (const char* variable :
       {"JAWLB_NAMESPACE", "JAWLB_SERVICE", "JAWLB_TARGETPORT", "JAWLB_LABELSELECTOR", "JAWLB_HOST",
        "JAWLB_PORT", "JAWLB_SHUTDOWNGRACEPERIOD", "JAWLB_ENDPOINTS", "JAWLB_ENDPOINTSFILE"}) {
    EXPECT_THAT(output, HasSubstr(variable));
  }
}

TEST(ProcessTest, BadConfigurationExitsNonZeroWithOneLineNamingIt) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string names;
  };
  const std::string endpoints = "JAWLB_ENDPOINTS=127.0.0.1:1";
  for (const Case& c : std::vector<Case>{
           {{}, {"JAWLB_PORT=70000", endpoints}, "JAWLB_PORT=\"70000\""},
           {{},
            {"JAWLB_SHUTDOWNGRACEPERIOD=25 s", endpoints},
            "JAWLB_SHUTDOWNGRACEPERIOD=\"25 s\""},
           {{"--nope"}, {endpoints}, "unknown flag --nope"},
           {{}, {"JAWLB_ENDPOINTS=127.0.0.1:1,10.0.0.1"}, "endpoint \"10.0.0.1\""},
           {{}, {"JAWLB_ENDPOINTSFILE=/nonexistent/endpoints"}, "/nonexistent/endpoints"},
           // Issue 13, item 9: 597h wrapped gRPC's int milliseconds into "GOAWAY at once".
           {{}, {"JAWLB_MAXCONNECTIONAGE=597h", endpoints}, "JAWLB_MAXCONNECTIONAGE=\"597h\""},
           {{}, {"JAWLB_MAXCONNECTIONAGEGRACE=1000h", endpoints}, "must be at most 100h"},
       }) {
    auto [status, output] = RunJawlb(c.args, c.env);
    EXPECT_TRUE(ExitedWith(status, 1)) << output;
    const std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipEmpty());
    ASSERT_EQ(lines.size(), 1u) << output;
    EXPECT_THAT(lines[0], HasSubstr(c.names));
  }
}

TEST(ProcessTest, JsonLogsAreOneObjectPerLine) {
  const std::string dir = MakeTempDir("process_test.");
  const std::string endpoints = dir + "/end\"points";  // a quote that must be escaped
  std::ofstream(endpoints) << "127.0.0.2:1\n";
  auto jawlb = JawlbProcess::Start(JAWLB_BINARY,
                                   {"JAWLB_ENDPOINTSFILE=" + endpoints, "JAWLB_LOGFORMAT=json"},
                                   dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  std::ofstream(endpoints + ".new") << "127.0.0.3:1\n";
  std::rename((endpoints + ".new").c_str(), endpoints.c_str());
  ASSERT_THAT((*jawlb)->process().WaitForLine("changed", kWait), IsOk());
  EXPECT_TRUE(ExitedWith((*jawlb)->process().Stop(SIGTERM, kWait), 0));
  int lines = 0;
  bool saw_quote = false;
  simdjson::dom::parser parser;
  for (absl::string_view line :
       absl::StrSplit((*jawlb)->process().Output(), '\n', absl::SkipEmpty())) {
    simdjson::dom::element object;
    ASSERT_EQ(parser.parse(line.data(), line.size()).get(object), simdjson::SUCCESS) << line;
    std::string_view level, message, time;
    EXPECT_EQ(object["level"].get(level), simdjson::SUCCESS) << line;
    EXPECT_EQ(object["time"].get(time), simdjson::SUCCESS) << line;
    ASSERT_EQ(object["msg"].get(message), simdjson::SUCCESS) << line;
    saw_quote |= message.find("end\"points") != std::string_view::npos;
    ++lines;
  }
  EXPECT_GE(lines, 4);
  EXPECT_TRUE(saw_quote);
}

TEST(ProcessTest, SigtermEndsStreamsSoClientsReconnectAndExitsZero) {
  const std::string dir = MakeTempDir("process_test.");
  // A grace period far longer than the test may take: exiting in time proves the
  // streams were ended, not waited out.
  auto jawlb = JawlbProcess::Start(JAWLB_BINARY,
                                   {"JAWLB_ENDPOINTS=127.0.0.2:1", "JAWLB_SHUTDOWNGRACEPERIOD=10m"},
                                   dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  LbStream stream((*jawlb)->port());
  LoadBalanceResponse list;
  ASSERT_TRUE(stream.ReadList(&list));

  kill((*jawlb)->process().pid(), SIGTERM);
  EXPECT_FALSE(stream.ReadList(&list));
  const grpc::Status status = stream.rw->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
  EXPECT_TRUE(ExitedWith((*jawlb)->process().Stop(SIGTERM, kWait), 0))
      << (*jawlb)->process().Output();
}

TEST(ProcessTest, GracePeriodEndsWithAHardStop) {
  const std::string dir = MakeTempDir("process_test.");
  // Lists large enough that a client that stops reading leaves a write
  // stuck in flight, which the graceful path cannot finish.
  const std::string endpoints = dir + "/endpoints";
  auto write_list = [&endpoints](int port) {
    std::ofstream out(endpoints + ".tmp");
    for (int i = 0; i < 4000; ++i)
      out << "10.1." << i / 250 << "." << i % 250 + 1 << ":" << port << "\n";
    out.close();
    std::rename((endpoints + ".tmp").c_str(), endpoints.c_str());
  };
  write_list(1);
  auto jawlb = JawlbProcess::Start(
      JAWLB_BINARY, {"JAWLB_ENDPOINTSFILE=" + endpoints, "JAWLB_SHUTDOWNGRACEPERIOD=1s"},
      dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  LbStream stalled((*jawlb)->port(), args);
  LoadBalanceResponse list;
  ASSERT_TRUE(stalled.ReadList(&list));
  for (int change = 2; change <= 8; ++change) {
    write_list(change);
    ASSERT_THAT((*jawlb)->process().WaitForLine("(4000 now)", kWait, change), IsOk());
  }
  kill((*jawlb)->process().pid(), SIGTERM);
  EXPECT_TRUE(ExitedWith((*jawlb)->process().Stop(SIGTERM, kWait), 0))
      << (*jawlb)->process().Output();
}

// grpc-go pings its balancer every 20 s even when idle; gRPC servers by default
// answer such pings with GOAWAY too_many_pings (the original Jawlb's bug). A
// client pinging every second shows it fast: against a server with gRPC's
// default policy (the control) its stream dies within seconds; against jawlb it
// lives on, and still gets list updates, for twice as long.
TEST(ProcessTest, KeepalivePingsNeverEndAClientsStream) {
  grpc::ChannelArguments pinging;
  pinging.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 1000);
  pinging.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  pinging.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  pinging.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);

  // The control: the same service on a server with gRPC's defaults.
  grpclb::ServiceUnit::Options unit_options;
  unit_options.key = "static";
  auto unit = std::make_shared<grpclb::ServiceUnit>(
      unit_options,
      std::make_unique<discovery::StaticSource>(*discovery::ParseBackendList("127.0.0.2:1")));
  transport::CompletionQueues queues(1);
  transport::GrpcCalls calls(queues);
  grpclb::BalanceLoadService service([unit](absl::string_view, absl::string_view) { return unit; },
                                     grpclb::BalanceLoadService::Options());
  grpc::ServerBuilder builder;
  int control_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &control_port);
  queues.AddTo(builder);
  calls.Register(grpclb::kBalanceLoadMethod, service.Handler());
  calls.AddTo(builder);
  std::unique_ptr<grpc::Server> control = builder.BuildAndStart();
  ASSERT_NE(control_port, 0);
  queues.Start();
  calls.Start();
  service.Start();
  ASSERT_TRUE(unit->Start(queues.wake_runner()).ok());

  const std::string dir = MakeTempDir("process_test.");
  const std::string endpoints = dir + "/endpoints";
  std::ofstream(endpoints) << "127.0.0.2:1\n";
  auto jawlb =
      JawlbProcess::Start(JAWLB_BINARY, {"JAWLB_ENDPOINTSFILE=" + endpoints}, dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());

  const absl::Time start = absl::Now();
  LbStream to_control(control_port, pinging);
  LbStream to_jawlb((*jawlb)->port(), pinging);
  LoadBalanceResponse list;
  ASSERT_TRUE(to_control.ReadList(&list));
  ASSERT_TRUE(to_jawlb.ReadList(&list));

  // The control ends the stream once its ping strikes run out.
  EXPECT_FALSE(to_control.ReadList(&list));
  const grpc::Status control_status = to_control.rw->Finish();
  const absl::Duration control_life = absl::Now() - start;
  EXPECT_NE(control_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << "the control server never objected to the pings: this test shows nothing";
  control->Shutdown(std::chrono::system_clock::now());
  calls.Stop();
  unit->Stop();
  queues.Stop();

  // jawlb's stream outlives it twice over, and still carries updates.
  while (absl::Now() - start < 2 * control_life) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::ofstream(endpoints + ".tmp") << "127.0.0.3:1\n";
  std::rename((endpoints + ".tmp").c_str(), endpoints.c_str());
  ASSERT_TRUE(to_jawlb.ReadList(&list)) << to_jawlb.rw->Finish().error_message();
  ASSERT_EQ(list.server_list().servers_size(), 1);
  EXPECT_EQ(list.server_list().servers(0).ip_address(), std::string("\x7f\x00\x00\x03", 4));
  to_jawlb.context.TryCancel();
}

}  // namespace
}  // namespace jawlb::testbed
