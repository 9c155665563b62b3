#include "config/config.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"

namespace jawlb::config {
namespace {

using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::HasSubstr;

// Runs FromEnvAndArgs with a fake environment and argv (argv[0] is added).
absl::StatusOr<Config> Parse(std::map<std::string, std::string> env,
                             std::vector<std::string> args = {}) {
  args.insert(args.begin(), "jawlb");
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  return Config::FromEnvAndArgs(
      [&env](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      static_cast<int>(argv.size()), argv.data());
}

const std::map<std::string, std::string> kMinimal = {{"JAWLB_ENDPOINTS", "10.0.0.1:50051"}};

TEST(ConfigTest, DefaultsAreTheOriginalJawlbs) {
  absl::StatusOr<Config> config = Parse(kMinimal);
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->namespace_, "");  // resolved later: the pod's, the context's, or "default"
  EXPECT_EQ(config->service, "");
  EXPECT_EQ(config->target_port, "grpc");
  EXPECT_EQ(config->label_selector, "");
  EXPECT_EQ(config->host, "");
  EXPECT_EQ(config->port, 8000);
  EXPECT_EQ(config->shutdown_grace, absl::Seconds(25));
  EXPECT_EQ(config->client_stats_interval, absl::Seconds(10));
  EXPECT_EQ(config->ListenAddress(), "[::]:8000");
  ASSERT_TRUE(config->endpoints.has_value());
  EXPECT_EQ(config->endpoints->ToString(), "10.0.0.1:50051");
}

TEST(ConfigTest, ReadsEveryVariable) {
  absl::StatusOr<Config> config = Parse({{"JAWLB_NAMESPACE", "prod"},
                                         {"JAWLB_SERVICE", "users"},
                                         {"JAWLB_TARGETPORT", "rpc"},
                                         {"JAWLB_LABELSELECTOR", "tier=api"},
                                         {"JAWLB_HOST", "::1"},
                                         {"JAWLB_PORT", "9000"},
                                         {"JAWLB_SHUTDOWNGRACEPERIOD", "1m30s"},
                                         {"JAWLB_ENDPOINTSFILE", "/etc/jawlb/endpoints"},
                                         {"JAWLB_CLIENTSTATSINTERVAL", "500ms"},
                                         {"JAWLB_LOGLEVEL", "debug"}});
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->namespace_, "prod");
  EXPECT_EQ(config->service, "users");
  EXPECT_EQ(config->target_port, "rpc");
  EXPECT_EQ(config->label_selector, "tier=api");
  EXPECT_EQ(config->host, "::1");
  EXPECT_EQ(config->port, 9000);
  EXPECT_EQ(config->shutdown_grace, absl::Seconds(90));
  EXPECT_EQ(config->endpoints_file, "/etc/jawlb/endpoints");
  EXPECT_EQ(config->client_stats_interval, absl::Milliseconds(500));
  EXPECT_EQ(config->log_level, "debug");
  EXPECT_EQ(config->ListenAddress(), "[::1]:9000");
}

TEST(ConfigTest, ReadsKubernetesSettings) {
  absl::StatusOr<Config> config = Parse({{"JAWLB_SERVICE", "users"},
                                         {"JAWLB_API", "endpoints"},
                                         {"JAWLB_WATCHSTALLTIMEOUT", "2m"},
                                         {"KUBECONFIG", "/a:/b"},
                                         {"JAWLB_CONTEXT", "prod"},
                                         {"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                         {"KUBERNETES_SERVICE_PORT", "443"}});
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->api, Api::kEndpoints);
  EXPECT_EQ(config->watch_stall_timeout, absl::Minutes(2));
  EXPECT_EQ(config->kubeconfig, "/a:/b");
  EXPECT_EQ(config->kube_context, "prod");
  EXPECT_EQ(config->in_cluster_host, "10.96.0.1");
  EXPECT_EQ(config->in_cluster_port, "443");
  EXPECT_EQ(Parse({{"JAWLB_SERVICE", "users"}})->api, Api::kAuto);
}

TEST(ConfigTest, FlagsWinOverEnvironment) {
  absl::StatusOr<Config> config =
      Parse({{"JAWLB_PORT", "9000"}, {"JAWLB_ENDPOINTS", "10.0.0.1:1"}},
            {"--port=9001", "--host", "127.0.0.1", "--shutdowngraceperiod", "500ms"});
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->port, 9001);
  EXPECT_EQ(config->ListenAddress(), "127.0.0.1:9001");
  EXPECT_EQ(config->shutdown_grace, absl::Milliseconds(500));
}

TEST(ConfigTest, PortZeroMeansAnyFreePort) {
  absl::StatusOr<Config> config = Parse({{"JAWLB_PORT", "0"}, {"JAWLB_ENDPOINTS", "10.0.0.1:1"}});
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->port, 0);
}

TEST(ConfigTest, BadValuesNameTheSettingAndTheValue) {
  struct Case {
    std::map<std::string, std::string> env;
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"JAWLB_PORT", "70000"}}, {}, "JAWLB_PORT=\"70000\": not a port number"},
      {{{"JAWLB_PORT", "80a"}}, {}, "JAWLB_PORT=\"80a\": not a port number"},
      {{{"JAWLB_PORT", "-1"}}, {}, "JAWLB_PORT=\"-1\""},
      {{}, {"--port=99999"}, "--port=\"99999\": not a port number"},
      {{{"JAWLB_SHUTDOWNGRACEPERIOD", "25 s"}},
       {},
       "JAWLB_SHUTDOWNGRACEPERIOD=\"25 s\": not a duration"},
      {{{"JAWLB_SHUTDOWNGRACEPERIOD", "25"}}, {}, "not a duration"},
      {{{"JAWLB_SHUTDOWNGRACEPERIOD", "-5s"}}, {}, "must not be negative"},
      {{{"JAWLB_SHUTDOWNGRACEPERIOD", "inf"}}, {}, "not a duration"},
      {{{"JAWLB_CLIENTSTATSINTERVAL", "often"}}, {}, "JAWLB_CLIENTSTATSINTERVAL=\"often\""},
      {{{"JAWLB_HOST", "localhost"}}, {}, "JAWLB_HOST=\"localhost\": not an IP address"},
      {{{"JAWLB_LOGLEVEL", "loud"}}, {}, "JAWLB_LOGLEVEL=\"loud\": not a log level"},
      {{{"JAWLB_ENDPOINTS", "10.0.0.1"}},
       {},
       "JAWLB_ENDPOINTS=\"10.0.0.1\": endpoint \"10.0.0.1\""},
      {{{"JAWLB_ENDPOINTS", "10.0.0.1:1,bad:2"}}, {}, "endpoint \"bad:2\""},
      {{}, {"--bogus=1"}, "unknown flag --bogus"},
      {{}, {"--port"}, "flag --port needs a value"},
      {{}, {"stray"}, "unexpected argument \"stray\""},
      {{{"JAWLB_API", "pods"}}, {}, "JAWLB_API=\"pods\": not an API to watch"},
      {{{"JAWLB_WATCHSTALLTIMEOUT", "soon"}}, {}, "JAWLB_WATCHSTALLTIMEOUT=\"soon\""},
      // gRPC takes these as int milliseconds: 597h would wrap around.
      {{{"JAWLB_MAXCONNECTIONAGE", "597h"}},
       {},
       "JAWLB_MAXCONNECTIONAGE=\"597h\": must be 0 or from 1s to 100h"},
      {{{"JAWLB_MAXCONNECTIONAGE", "500us"}}, {}, "must be 0 or from 1s to 100h"},
      {{{"JAWLB_MAXCONNECTIONAGEGRACE", "1000h"}}, {}, "must be at most 100h"},
      {{{"JAWLB_SHUTDOWNGRACEPERIOD", "101h"}}, {}, "must be at most 100h"},
      {{{"JAWLB_LOADSMOOTHING", "0"}}, {}, "must be from 1s to 24h"},
      {{{"JAWLB_WATCHSTALLTIMEOUT", "0"}}, {}, "must be from 1s to 24h"},
      {{{"JAWLB_CLIENTSTATSINTERVAL", "1ms"}}, {}, "must be 0 or from 100ms to 24h"},
      {{{"JAWLB_MAXSTREAMS", "0"}}, {}, "JAWLB_MAXSTREAMS=\"0\": not a count from 1 to 1000000"},
      {{{"JAWLB_MAXSTREAMSPERCONNECTION", "x"}}, {}, "not a count from 1"},
      {{{"JAWLB_FIRSTMESSAGETIMEOUT", "0"}}, {}, "must be from 100ms to 1h"},
      {{{"JAWLB_MAXLISTBYTES", "10"}}, {}, "not a count from 1024"},
  };
  for (const Case& c : cases) {
    std::map<std::string, std::string> env = c.env;
    env.emplace("JAWLB_ENDPOINTS", "10.0.0.1:50051");
    EXPECT_THAT(Parse(env, c.args),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << "for the case expecting: " << c.message;
  }
}

TEST(ConfigTest, DurationRangesKeepZeroAsNever) {
  absl::StatusOr<Config> config = Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"},
                                         {"JAWLB_MAXCONNECTIONAGE", "0"},
                                         {"JAWLB_MAXCONNECTIONAGEGRACE", "100h"}});
  ASSERT_THAT(config, IsOk());
  EXPECT_EQ(config->max_connection_age, absl::ZeroDuration());
  EXPECT_EQ(config->max_connection_age_grace, absl::Hours(100));
  EXPECT_EQ(config->max_streams, 10000u);
  EXPECT_EQ(config->max_streams_per_connection, 100u);
  EXPECT_EQ(config->first_message_timeout, absl::Seconds(10));
}

TEST(ConfigTest, ErrorsAreOneLine) {
  absl::StatusOr<Config> config = Parse({{"JAWLB_PORT", "70000"}});
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().message().find('\n'), absl::string_view::npos);
}

TEST(ConfigTest, NeedsABackendSource) {
  EXPECT_THAT(Parse({}), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JAWLB_SERVICE")));
  EXPECT_THAT(Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"}, {"JAWLB_ENDPOINTSFILE", "/x"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("choose one")));
  EXPECT_THAT(Parse({{"JAWLB_SERVICE", "users"}}), IsOk());
}

TEST(ConfigTest, GoDurations) {
  EXPECT_EQ(*ParseGoDuration("25s"), absl::Seconds(25));
  EXPECT_EQ(*ParseGoDuration("1m30s"), absl::Seconds(90));
  EXPECT_EQ(*ParseGoDuration("500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseGoDuration("1.5h"), absl::Minutes(90));
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
  EXPECT_FALSE(ParseGoDuration("").ok());
  EXPECT_FALSE(ParseGoDuration("1 m").ok());
  EXPECT_FALSE(ParseGoDuration("5d").ok());
}

TEST(ConfigTest, HelpListsEveryVariableWithItsDefault) {
  const std::string help = Config::Help();
  for (const char* expected :
       {"JAWLB_NAMESPACE", "JAWLB_SERVICE", "JAWLB_TARGETPORT", "JAWLB_LABELSELECTOR", "JAWLB_HOST",
        "JAWLB_PORT", "JAWLB_SHUTDOWNGRACEPERIOD", "JAWLB_ENDPOINTS", "JAWLB_ENDPOINTSFILE",
        "JAWLB_CLIENTSTATSINTERVAL", "JAWLB_LOGLEVEL", "--port", "default \"8000\"",
        "default \"25s\"", "default \"grpc\"", "default \"default\""}) {
    EXPECT_THAT(help, HasSubstr(expected));
  }
  const char* help_argv[] = {"jawlb", "--help"};
  EXPECT_TRUE(Config::WantsHelp(2, help_argv));
  const char* plain_argv[] = {"jawlb", "--port=1"};
  EXPECT_FALSE(Config::WantsHelp(2, plain_argv));
}

TEST(ConfigTest, MultiModeNeedsNoServiceAndRefusesStaticBackends) {
  absl::StatusOr<Config> multi = Parse({{"JAWLB_MODE", "multi"},
                                        {"JAWLB_NAMESPACES", "prod, shop"},
                                        {"JAWLB_NAMESUFFIX", "-lb"},
                                        {"JAWLB_IDLETIMEOUT", "10m"}});
  ASSERT_THAT(multi, IsOk());
  EXPECT_EQ(multi->mode, Mode::kMulti);
  EXPECT_EQ(multi->namespaces, (std::set<std::string>{"prod", "shop"}));
  EXPECT_EQ(multi->name_suffix, "-lb");
  EXPECT_EQ(multi->idle_timeout, absl::Minutes(10));
  EXPECT_EQ(multi->cluster_domain, "cluster.local");
  EXPECT_THAT(Parse({{"JAWLB_MODE", "many"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JAWLB_MODE")));
  EXPECT_THAT(Parse({{"JAWLB_MODE", "multi"}, {"JAWLB_NAMESPACES", "prod,Kube_System"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("Kube_System")));
  EXPECT_THAT(Parse({{"JAWLB_MODE", "multi"}, {"JAWLB_ENDPOINTS", "10.0.0.1:1"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JAWLB_ENDPOINTS")));
  // Subsetting, shedding and health checks apply to each service on its own.
  EXPECT_THAT(Parse({{"JAWLB_MODE", "multi"},
                     {"JAWLB_MAXSERVERS", "3"},
                     {"JAWLB_MAXRPSPERBACKEND", "100"},
                     {"JAWLB_HEALTHCHECK", "grpc"}}),
              IsOk());
}

TEST(ConfigTest, TheTransportIsJawlbsOwnServerUnlessGrpcIsAskedFor) {
  absl::StatusOr<Config> plain = Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"}});
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(plain->transport, Transport::kH2);
  absl::StatusOr<Config> grpc =
      Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"}, {"JAWLB_TRANSPORT", "grpc"}});
  ASSERT_THAT(grpc, IsOk());
  EXPECT_EQ(grpc->transport, Transport::kGrpc);
  EXPECT_THAT(Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"}, {"JAWLB_TRANSPORT", "quic"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JAWLB_TRANSPORT")));
}

TEST(ConfigTest, TlsNeedsACertificateAndItsKeyOnJawlbsOwnServer) {
  absl::StatusOr<Config> tls = Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"},
                                      {"JAWLB_TLSCERT", "/tls/tls.crt"},
                                      {"JAWLB_TLSKEY", "/tls/tls.key"},
                                      {"JAWLB_TLSCLIENTCA", "/tls/ca.crt"},
                                      {"JAWLB_TLSHANDSHAKETIMEOUT", "3s"},
                                      {"JAWLB_MAXTLSHANDSHAKES", "50"}});
  ASSERT_THAT(tls, IsOk());
  EXPECT_EQ(tls->tls_cert, "/tls/tls.crt");
  EXPECT_EQ(tls->tls_key, "/tls/tls.key");
  EXPECT_EQ(tls->tls_client_ca, "/tls/ca.crt");
  EXPECT_EQ(tls->tls_handshake_timeout, absl::Seconds(3));
  EXPECT_EQ(tls->max_tls_handshakes, 50u);
  EXPECT_THAT(Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"}, {"JAWLB_TLSCERT", "/tls/tls.crt"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("go together")));
  EXPECT_THAT(Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"}, {"JAWLB_TLSKEY", "/tls/tls.key"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("go together")));
  EXPECT_THAT(Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"}, {"JAWLB_TLSCLIENTCA", "/tls/ca.crt"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs TLS")));
  EXPECT_THAT(Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"},
                     {"JAWLB_TLSCERT", "/tls/tls.crt"},
                     {"JAWLB_TLSKEY", "/tls/tls.key"},
                     {"JAWLB_TRANSPORT", "grpc"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JAWLB_TRANSPORT=grpc")));
  EXPECT_THAT(Parse({{"JAWLB_ENDPOINTS", "10.0.0.1:1"}, {"JAWLB_TLSHANDSHAKETIMEOUT", "1h"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JAWLB_TLSHANDSHAKETIMEOUT")));
}

}  // namespace
}  // namespace jawlb::config
