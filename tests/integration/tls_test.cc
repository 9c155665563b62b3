// TLS and mutual TLS on the gRPC port, with real clients: gRPC C++'s grpclb
// policy finding jawlb through DNS SRV with TLS channel credentials (it checks
// jawlb's certificate against the SRV target's host name, jawlb.test, and the
// backends' against the name it dialed, echo.test), grpc-go's grpclb balancer
// the same way, clients refused without a certificate the client CA signed,
// and certificates rotated in place under a connected client.
//
// jawlb's HTTP/2 server serves TLS; gRPC C++'s server (JAWLB_TRANSPORT=grpc)
// cannot take TLS connections jawlb accepts itself, so there a TLS setting
// is refused at start (tested), and the rest is skipped.
#include <cstdio>
#include <fstream>

#include <signal.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "grpc/grpc_security_constants.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"

#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/raw_connection.h"
#include "testbed/tls_files.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kSettle = absl::Seconds(60);

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<TlsFiles> pki = MakeTlsFiles(dir_, {"jawlb.test", "echo.test"});
    ASSERT_THAT(pki, IsOk());
    pki_ = *pki;
    // jawlb's own copies, replaced in place by the rotation test.
    Put(pki_.cert, cert_);
    Put(pki_.key, key_);
    if (!OnH2Transport()) return;
    grpc::SslServerCredentialsOptions backend_tls;
    backend_tls.pem_key_cert_pairs.push_back({ReadWholeFile(pki_.key), ReadWholeFile(pki_.cert)});
    for (const char* name : {"alpha", "beta", "gamma"}) {
      auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + backends_.size()), true,
                                        grpc::SslServerCredentials(backend_tls));
      ASSERT_THAT(backend, IsOk());
      backends_.push_back(*std::move(backend));
    }
    endpoints_ = dir_ + "/endpoints";
    List({"alpha", "beta", "gamma"});
  }

  void TearDown() override {
    if (jawlb_ != nullptr) {
      std::optional<int> status = jawlb_->process().Stop(SIGTERM, absl::Seconds(60));
      ASSERT_TRUE(ExitedWith(status, 0)) << jawlb_->process().Output();
    }
  }

  // Replaces `to` with a copy of `from` atomically (as the kubelet swaps a
  // Secret volume's files).
  static void Put(const std::string& from, const std::string& to) {
    std::ofstream(to + ".new") << ReadWholeFile(from);
    ASSERT_EQ(std::rename((to + ".new").c_str(), to.c_str()), 0);
  }

  void List(const std::vector<std::string>& names) {
    std::vector<std::string> addresses;
    for (const auto& backend : backends_) {
      if (std::find(names.begin(), names.end(), backend->name()) != names.end()) {
        addresses.push_back(backend->address());
      }
    }
    std::ofstream(endpoints_ + ".tmp") << absl::StrJoin(addresses, "\n") << "\n";
    ASSERT_EQ(std::rename((endpoints_ + ".tmp").c_str(), endpoints_.c_str()), 0);
    if (jawlb_ != nullptr) {
      ASSERT_THAT(jawlb_->process().WaitForLine(" now)", kSettle, ++lists_), IsOk());
    }
  }

  // Starts jawlb serving TLS (`client_ca`: mutual) from the endpoints file,
  // and a DNS server whose SRV record names it as jawlb.test.
  void StartJawlb(const std::string& client_ca = "", std::vector<std::string> more = {}) {
    std::vector<std::string> env = std::move(more);
    env.insert(env.end(), {"JAWLB_ENDPOINTSFILE=" + endpoints_, "JAWLB_LOGLEVEL=debug",
                           "JAWLB_TLSCERT=" + cert_, "JAWLB_TLSKEY=" + key_});
    if (!client_ca.empty()) env.push_back("JAWLB_TLSCLIENTCA=" + client_ca);
    auto jawlb = JawlbProcess::Start(JAWLB_BINARY, env, dir_ + "/jawlb.log");
    ASSERT_THAT(jawlb, IsOk());
    jawlb_ = *std::move(jawlb);
    // Nothing listens at the target's own port: an RPC that succeeds was
    // routed by jawlb's list. (The plaintext channel it makes is not used.)
    absl::StatusOr<EchoClient> client = ConnectEchoClient(dir_, jawlb_->port());
    ASSERT_THAT(client, IsOk());
    dns_ = std::move(client->dns);
    target_ = client->target;
  }

  // TLS channel credentials trusting the test CA; with a client certificate
  // when `cert` is set.
  static std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& ca,
                                                       const std::string& cert = "",
                                                       const std::string& key = "") {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadWholeFile(ca);
    if (!cert.empty()) {
      options.pem_cert_chain = ReadWholeFile(cert);
      options.pem_private_key = ReadWholeFile(key);
    }
    return grpc::SslCredentials(options);
  }

  // A health Check on jawlb's port over a new connection of its own, as
  // jawlb.test: the status, and the common name of the certificate jawlb
  // presented.
  std::pair<grpc::Status, std::string> Check(std::shared_ptr<grpc::ChannelCredentials> creds) {
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("jawlb.test");
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", jawlb_->port()),
                                             std::move(creds), args);
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    std::string name;
    if (const auto auth = context.auth_context(); auth != nullptr) {
      for (const auto& value : auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
        name.assign(value.data(), value.size());
      }
    }
    return {status, name};
  }

  // How often the jawlb's log says a client asked for `target_`.
  int Asks() {
    const std::string output = jawlb_->process().Output();
    const std::string needle = absl::StrCat("asks for \"", target_, "\"");
    int count = 0;
    for (size_t at = output.find(needle); at != std::string::npos;
         at = output.find(needle, at + 1)) {
      ++count;
    }
    return count;
  }

  int AdminStatus(const std::string& path) {
    auto got = HttpGet(absl::StrCat("http://127.0.0.1:", jawlb_->admin_port(), path));
    return got.ok() ? got->first : 0;
  }

  std::string Metrics() {
    auto got = HttpGet(absl::StrCat("http://127.0.0.1:", jawlb_->admin_port(), "/metrics"));
    return got.ok() ? got->second : "";
  }

  const std::string dir_ = MakeTempDir("tls_test.");
  const std::string cert_ = dir_ + "/tls.crt";
  const std::string key_ = dir_ + "/tls.key";
  TlsFiles pki_;
  std::vector<std::unique_ptr<EchoBackend>> backends_;
  std::string endpoints_;
  std::unique_ptr<JawlbProcess> jawlb_;
  std::unique_ptr<DnsServer> dns_;
  std::string target_;
  int lists_ = 1;
};

TEST_F(TlsTest, CppGrpclbClientFindsJawlbThroughSrvOverTls) {
  if (!OnH2Transport()) GTEST_SKIP() << "TLS is served by jawlb's HTTP/2 server";
  StartJawlb();
  auto channel = MakeGrpclbChannel(dns_->address(), target_, Tls(pki_.ca));
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kSettle), IsOk());
  List({"alpha", "beta"});
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta"}, true, 30, kSettle), IsOk());
  const Spread spread = CallMany(channel, 100);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  EXPECT_EQ(spread.calls.count("gamma"), 0u) << spread.ToString();
  EXPECT_THAT(jawlb_->process().Output(), HasSubstr("listening on 127.0.0.1"));
  EXPECT_THAT(jawlb_->process().Output(), HasSubstr("(jawlb's HTTP/2 server, TLS)"));
  // Liveness dials its own port: over TLS, it sees the handshake answered.
  EXPECT_EQ(AdminStatus("/healthz"), 200);

  // A plaintext client gets nothing from a TLS port: its handshake fails.
  auto plaintext = MakeGrpclbChannel(dns_->address(), target_);
  EXPECT_GT(CallMany(plaintext, 3, absl::Seconds(2)).failures, 0);
  EXPECT_THAT(Metrics(), Not(HasSubstr("jawlb_tls_handshake_failures_total 0\n")));
}

TEST_F(TlsTest, GoGrpclbClientOverTls) {
  if (!OnH2Transport()) GTEST_SKIP() << "TLS is served by jawlb's HTTP/2 server";
  StartJawlb();
  auto go = Subprocess::Spawn(
      {GOCLIENT_BINARY, "-target", absl::StrCat("dns://", dns_->address(), "/", target_), "-window",
       "30", "-duration", "10m", "-ca", pki_.ca},
      {}, dir_ + "/goclient.log");
  ASSERT_THAT(go, IsOk());
  ASSERT_THAT((*go)->WaitForLine(": alpha,beta,gamma failed=0", kSettle), IsOk())
      << (*go)->Output();
  List({"beta", "gamma"});
  ASSERT_THAT((*go)->WaitForLine(": beta,gamma failed=0", kSettle), IsOk()) << (*go)->Output();
  EXPECT_THAT(jawlb_->process().Output(), HasSubstr(absl::StrCat("asks for \"", target_, "\"")));
}

TEST_F(TlsTest, MutualTlsServesOnlyClientsTheClientCaSigned) {
  if (!OnH2Transport()) GTEST_SKIP() << "TLS is served by jawlb's HTTP/2 server";
  StartJawlb(pki_.ca);
  // A grpclb client with a certificate, through DNS SRV.
  auto channel =
      MakeGrpclbChannel(dns_->address(), target_, Tls(pki_.ca, pki_.client_cert, pki_.client_key));
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kSettle), IsOk());
  EXPECT_TRUE(Check(Tls(pki_.ca, pki_.client_cert, pki_.client_key)).first.ok());
  // No certificate, or one another CA signed: refused in the handshake.
  const auto without = Check(Tls(pki_.ca));
  EXPECT_EQ(without.first.error_code(), grpc::StatusCode::UNAVAILABLE)
      << without.first.error_message();
  const auto stranger = Check(Tls(pki_.ca, pki_.other_client_cert, pki_.other_client_key));
  EXPECT_EQ(stranger.first.error_code(), grpc::StatusCode::UNAVAILABLE)
      << stranger.first.error_message();
  EXPECT_THAT(jawlb_->process().Output(), HasSubstr("TLS handshake with"));
  // Liveness has no client certificate: the server's refusal is its answer.
  EXPECT_EQ(AdminStatus("/healthz"), 200);
  EXPECT_THAT(Metrics(), Not(HasSubstr("jawlb_tls_handshake_failures_total 0\n")));
  // The client with a certificate was never disturbed.
  EXPECT_EQ(CallMany(channel, 50).failures, 0);
}

TEST_F(TlsTest, RotationServesNewHandshakesAndKeepsConnectedClients) {
  if (!OnH2Transport()) GTEST_SKIP() << "TLS is served by jawlb's HTTP/2 server";
  StartJawlb();
  auto channel = MakeGrpclbChannel(dns_->address(), target_, Tls(pki_.ca));
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kSettle), IsOk());
  EXPECT_EQ(Check(Tls(pki_.ca)).second, "jawlb");
  const int asks = Asks();
  ASSERT_EQ(asks, 1);

  // cert-manager renews: both files replaced in place.
  Put(pki_.rotated_cert, cert_);
  Put(pki_.rotated_key, key_);
  const absl::Time deadline = absl::Now() + kSettle;
  std::string presented;
  while ((presented = Check(Tls(pki_.ca)).second) != "jawlb rotated" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(presented, "jawlb rotated");
  EXPECT_THAT(jawlb_->process().Output(), HasSubstr("tls: new certificate /CN=jawlb rotated"));

  // The connected client's stream went on: it follows a change without
  // asking again.
  List({"alpha", "gamma"});
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "gamma"}, true, 30, kSettle), IsOk());
  EXPECT_EQ(Asks(), asks);

  // Half a rotation (a key that is not the certificate's): logged, counted,
  // and the last good pair is served.
  Put(pki_.key, key_);
  ASSERT_TRUE(Check(Tls(pki_.ca)).first.ok());
  std::string metrics;
  const absl::Time counted = absl::Now() + kSettle;
  while (!absl::StrContains(metrics = Metrics(), "jawlb_tls_reloads_total{result=\"error\"} 1") &&
         absl::Now() < counted) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(metrics, HasSubstr("jawlb_tls_reloads_total{result=\"error\"} 1"));
  EXPECT_THAT(jawlb_->process().Output(), HasSubstr("do not load, keeping /CN=jawlb rotated"));
  const auto after = Check(Tls(pki_.ca));
  EXPECT_TRUE(after.first.ok()) << after.first.error_message();
  EXPECT_EQ(after.second, "jawlb rotated");
  EXPECT_EQ(CallMany(channel, 50).failures, 0);
}

// The cost of a handshake is bounded: a connection that never finishes one
// holds its slot for JAWLB_TLSHANDSHAKETIMEOUT, and past JAWLB_MAXTLSHANDSHAKES
// a new connection is closed at once (its client retries; established
// connections are not touched).
TEST_F(TlsTest, HandshakesAreBoundedInTimeAndNumber) {
  if (!OnH2Transport()) GTEST_SKIP() << "TLS is served by jawlb's HTTP/2 server";
  StartJawlb("", {"JAWLB_TLSHANDSHAKETIMEOUT=2s", "JAWLB_MAXTLSHANDSHAKES=2"});
  auto channel = MakeGrpclbChannel(dns_->address(), target_, Tls(pki_.ca));
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kSettle), IsOk());

  // Two connections that say nothing take both slots; a third is closed at
  // once, without a byte.
  RawConnection silent1("127.0.0.1", jawlb_->port());
  RawConnection silent2("127.0.0.1", jawlb_->port());
  ASSERT_TRUE(silent1.connected() && silent2.connected());
  const absl::Time deadline = absl::Now() + kSettle;
  while (!absl::StrContains(Metrics(), "jawlb_tls_handshakes 2\n") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_THAT(Metrics(), HasSubstr("jawlb_tls_handshakes 2\n"));
  RawConnection third("127.0.0.1", jawlb_->port());
  EXPECT_EQ(third.ReadAll(), "");
  EXPECT_THAT(Metrics(), HasSubstr("jawlb_tls_connections_refused_total 1\n"));
  EXPECT_THAT(jawlb_->process().Output(), HasSubstr("TLS handshakes under way"));

  // The silent ones are closed at the timeout (ReadAll waits up to 60 s).
  const absl::Time opened = absl::Now();
  EXPECT_EQ(silent1.ReadAll(), "");
  EXPECT_EQ(silent2.ReadAll(), "");
  EXPECT_LT(absl::Now() - opened, absl::Seconds(50));
  EXPECT_THAT(Metrics(), HasSubstr("jawlb_tls_handshake_failures_total 2\n"));
  EXPECT_THAT(jawlb_->process().Output(), HasSubstr("no TLS handshake within 2s"));

  // The established client never noticed; new handshakes go through again.
  EXPECT_EQ(CallMany(channel, 50).failures, 0);
  EXPECT_TRUE(Check(Tls(pki_.ca)).first.ok());
}

TEST_F(TlsTest, ABadPairAtStartIsAClearErrorAndExit1) {
  std::ofstream(dir_ + "/endpoints-static") << "127.0.0.2:1\n";
  struct Case {
    std::vector<std::string> env;
    std::string says;
  };
  int n = 0;
  for (const Case& c : std::vector<Case>{
           {{"JAWLB_TLSCERT=" + cert_, "JAWLB_TLSKEY=" + pki_.rotated_key},
            "does not match the certificate"},
           {{"JAWLB_TLSCERT=" + cert_, "JAWLB_TLSKEY=" + dir_ + "/missing.key"},
            dir_ + "/missing.key"},
           {{"JAWLB_TLSCERT=" + cert_}, "JAWLB_TLSCERT and JAWLB_TLSKEY go together"},
           {{"JAWLB_TLSCLIENTCA=" + pki_.ca}, "JAWLB_TLSCLIENTCA asks for client certificates"},
           {{"JAWLB_TLSCERT=" + cert_, "JAWLB_TLSKEY=" + key_, "JAWLB_TRANSPORT=grpc"},
            "cannot take TLS connections"},
       }) {
    std::vector<std::string> env = c.env;
    env.push_back("JAWLB_ENDPOINTSFILE=" + dir_ + "/endpoints-static");
    env.push_back("JAWLB_PORT=0");
    env.push_back("JAWLB_ADMINPORT=0");
    auto process = Subprocess::Spawn({JAWLB_BINARY}, env, absl::StrCat(dir_, "/bad-", ++n, ".log"));
    ASSERT_THAT(process, IsOk());
    // It exits by itself; the timeout only bounds a failure to.
    const std::optional<int> status = (*process)->Stop(0, absl::Seconds(30));
    EXPECT_TRUE(ExitedWith(status, 1)) << (*process)->Output();
    EXPECT_THAT((*process)->Output(), HasSubstr(c.says));
    EXPECT_THAT((*process)->Output(), Not(HasSubstr("PRIVATE KEY")));
  }
}

}  // namespace
}  // namespace jawlb::testbed
