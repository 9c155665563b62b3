// End to end with real grpclb clients, found the way clients in a cluster find
// the balancer: dnsmasq serves _grpclb._tcp.echo.test (SRV → the real jawlb
// binary) and the clients use their own grpclb policy: gRPC C++ (C-core) in this
// process, and grpc-go as a separate program. Backends are echo servers on
// 127.0.0.2-4; jawlb serves them from an endpoints file the tests edit.
#include <cstdio>
#include <fstream>
#include <set>

#include <signal.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/dns_server.h"
#include "testbed/echo_backend.h"
#include "testbed/echo_client.h"
#include "testbed/grpclb_channel.h"
#include "testbed/jawlb_process.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;

constexpr absl::Duration kSettle = absl::Seconds(60);

class GrpclbClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"alpha", "beta", "gamma"}) {
      auto backend = EchoBackend::Start(name, absl::StrCat("127.0.0.", 2 + backends_.size()));
      ASSERT_THAT(backend, IsOk());
      backends_.push_back(*std::move(backend));
    }
    endpoints_ = dir_ + "/endpoints";
    List({alpha(), beta(), gamma()});
    auto jawlb = JawlbProcess::Start(JAWLB_BINARY,
                                     {"JAWLB_ENDPOINTSFILE=" + endpoints_, "JAWLB_LOGLEVEL=debug"},
                                     dir_ + "/jawlb.log");
    ASSERT_THAT(jawlb, IsOk());
    jawlb_ = *std::move(jawlb);
    DnsServer::Records records;
    records.a = {{"jawlb.test", "127.0.0.1"}, {"echo.test", "127.0.0.1"}};
    records.grpclb = {{"echo.test", "jawlb.test", jawlb_->port()}};
    auto dns = DnsServer::Start(records, dir_);
    ASSERT_THAT(dns, IsOk());
    dns_ = *std::move(dns);
    // Fallback (the A record of echo.test) would go to this port, where nothing
    // listens: an RPC that succeeds was routed by jawlb's list.
    absl::StatusOr<int> port = PickFreePort("127.0.0.1");
    ASSERT_THAT(port, IsOk());
    target_ = absl::StrCat("echo.test:", *port);
  }

  void TearDown() override {
    if (jawlb_ != nullptr) {
      std::optional<int> status = jawlb_->process().Stop(SIGTERM, absl::Seconds(60));
      ASSERT_TRUE(ExitedWith(status, 0)) << jawlb_->process().Output();
    }
  }

  // Replaces the endpoints file (atomically, as a ConfigMap update does) and
  // waits until jawlb has applied it.
  void List(const std::vector<const EchoBackend*>& listed) {
    const std::string tmp = endpoints_ + ".tmp";
    std::ofstream(tmp) << absl::StrJoin(listed, "\n", [](std::string* out, const EchoBackend* b) {
      out->append(b->address());
    }) << "\n";
    ASSERT_EQ(std::rename(tmp.c_str(), endpoints_.c_str()), 0);
    if (jawlb_ != nullptr) {
      ASSERT_THAT(jawlb_->process().WaitForLine(" now)", kSettle, ++lists_), IsOk());
    }
  }

  const EchoBackend* alpha() const { return backends_[0].get(); }
  const EchoBackend* beta() const { return backends_[1].get(); }
  const EchoBackend* gamma() const { return backends_[2].get(); }

  const std::string dir_ = MakeTempDir("grpclb_client_test.");
  std::vector<std::unique_ptr<EchoBackend>> backends_;
  std::string endpoints_;
  std::unique_ptr<JawlbProcess> jawlb_;
  std::unique_ptr<DnsServer> dns_;
  std::string target_;
  int lists_ = 1;  // lists jawlb has logged ("backends: +a -b (n now)")
};

TEST_F(GrpclbClientTest, CppGrpclbPolicyFollowsTheList) {
  auto channel = MakeGrpclbChannel(dns_->address(), target_);

  // All three listed: every backend gets its share.
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kSettle), IsOk());
  Spread spread = CallMany(channel, 300);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  for (const char* name : {"alpha", "beta", "gamma"}) {
    EXPECT_GE(spread.calls[name], 60) << spread.ToString();
  }
  // jawlb recorded the name the client dialed, port included.
  EXPECT_THAT(jawlb_->process().Output(), HasSubstr(absl::StrCat("asks for \"", target_, "\"")));

  // gamma left out of the list gets no RPCs at all.
  List({alpha(), beta()});
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta"}, true, 30, kSettle), IsOk());
  const int64_t gamma_calls = gamma()->calls();
  spread = CallMany(channel, 300);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  EXPECT_EQ(gamma()->calls(), gamma_calls);
  EXPECT_EQ(spread.calls.count("gamma"), 0u);

  // Traffic follows the change to a different set.
  List({beta(), gamma()});
  ASSERT_THAT(WaitForSpread(channel, {"beta", "gamma"}, true, 30, kSettle), IsOk());
  const int64_t alpha_calls = alpha()->calls();
  spread = CallMany(channel, 300);
  EXPECT_EQ(spread.failures, 0) << spread.ToString();
  EXPECT_EQ(alpha()->calls(), alpha_calls);

  // No backends at all: a drop entry, so RPCs fail fast instead of hanging,
  // and no backend is called.
  List({});
  const absl::Time deadline = absl::Now() + kSettle;
  while (CallMany(channel, 1).failures == 0 && absl::Now() < deadline) {
  }
  const int64_t before = alpha()->calls() + beta()->calls() + gamma()->calls();
  spread = CallMany(channel, 20);
  EXPECT_EQ(spread.failures, 20) << spread.ToString();
  EXPECT_THAT(spread.last_error, HasSubstr("14:")) << "want UNAVAILABLE";
  EXPECT_EQ(alpha()->calls() + beta()->calls() + gamma()->calls(), before);

  // And back.
  List({alpha(), beta(), gamma()});
  ASSERT_THAT(WaitForSpread(channel, {"alpha", "beta", "gamma"}, true, 30, kSettle), IsOk());
}

// grpc-go's grpclb balancer: an independent implementation of the protocol.
TEST_F(GrpclbClientTest, GoGrpclbBalancerFollowsTheList) {
  auto go = Subprocess::Spawn(
      {GOCLIENT_BINARY, "-target", absl::StrCat("dns://", dns_->address(), "/", target_), "-window",
       "30", "-duration", "10m"},
      {}, dir_ + "/goclient.log");
  ASSERT_THAT(go, IsOk());
  Subprocess& client = **go;
  // The number of the first window after `after` in which exactly `names`
  // answered (all RPCs failed, for "").
  auto wait_for = [&client](const std::string& names, int after = 0) -> int {
    for (int nth = 1;; ++nth) {
      absl::StatusOr<std::string> line =
          client.WaitForLine(absl::StrCat(": ", names, " failed="), kSettle, nth);
      EXPECT_THAT(line, IsOk());
      if (!line.ok()) return -1;
      int window = -1;
      absl::string_view text = *line;
      text.remove_prefix(std::string("window ").size());
      EXPECT_TRUE(absl::SimpleAtoi(text.substr(0, text.find(':')), &window)) << *line;
      if (window > after) return window;
    }
  };
  auto wait_windows = [&client](int window) {
    ASSERT_THAT(client.WaitForLine(absl::StrCat("window ", window, ":"), kSettle), IsOk());
  };

  int window = wait_for("alpha,beta,gamma");
  ASSERT_GT(window, 0);

  List({alpha(), beta()});
  window = wait_for("alpha,beta", window);
  ASSERT_GT(window, 0);
  const int64_t gamma_calls = gamma()->calls();
  wait_windows(window + 3);
  EXPECT_EQ(gamma()->calls(), gamma_calls) << client.Output();

  List({beta(), gamma()});
  window = wait_for("beta,gamma", window);
  ASSERT_GT(window, 0);
  const int64_t alpha_calls = alpha()->calls();
  wait_windows(window + 3);
  EXPECT_EQ(alpha()->calls(), alpha_calls) << client.Output();

  // No backends: every RPC of a window fails, none reaches a backend.
  List({});
  window = wait_for("", window);
  ASSERT_GT(window, 0);
  EXPECT_THAT(client.WaitForLine(absl::StrCat("window ", window, ":  failed=30"), kSettle), IsOk());

  List({alpha(), beta(), gamma()});
  EXPECT_GT(wait_for("alpha,beta,gamma", window), window);
  // grpc-go also told jawlb what it dialed.
  EXPECT_THAT(jawlb_->process().Output(), HasSubstr(absl::StrCat("asks for \"", target_, "\"")));
}

}  // namespace
}  // namespace jawlb::testbed
