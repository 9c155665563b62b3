#include "transport/tls.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "common/metrics.h"
#include "testbed/subprocess.h"
#include "testbed/tls_files.h"
#include "tests/common/status_matchers.h"
#include "tests/fakes/fake_clock.h"

namespace jawlb::transport {
namespace {

using ::jawlb::testing::IsOk;
using ::testing::AllOf;
using ::testing::HasSubstr;

class ServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testbed::TlsFiles> files = testbed::MakeTlsFiles(dir_, {"jawlb.test"});
    ASSERT_THAT(files, IsOk());
    pki_ = *files;
    // What jawlb is given: files of its own, replaced as a rotation would.
    Put(pki_.cert, cert_);
    Put(pki_.key, key_);
  }

  // Replaces `to` with a copy of `from`, atomically (a rename, as the
  // kubelet's symlink swap is).
  void Put(const std::string& from, const std::string& to) {
    std::ofstream(to + ".new") << testbed::ReadWholeFile(from);
    ASSERT_EQ(std::rename((to + ".new").c_str(), to.c_str()), 0);
  }

  std::string Metrics(ServerTls& tls) {
    metrics::TextWriter out;
    tls.WriteMetrics(out);
    return out.text();
  }

  const std::string dir_ = testbed::MakeTempDir("tls_test.");
  const std::string cert_ = dir_ + "/tls.crt";
  const std::string key_ = dir_ + "/tls.key";
  testbed::TlsFiles pki_;
  FakeClock clock_;
};

TEST_F(ServerTlsTest, LoadsAPairAndSaysWhatItServes) {
  auto tls = ServerTls::Load({cert_, key_, ""}, clock_);
  ASSERT_THAT(tls, IsOk());
  EXPECT_NE((*tls)->Current(), nullptr);
  EXPECT_FALSE((*tls)->mutual());
  EXPECT_THAT((*tls)->Describe(), AllOf(HasSubstr("CN=jawlb"), HasSubstr("expires 20")));
  auto mutual = ServerTls::Load({cert_, key_, pki_.ca}, clock_);
  ASSERT_THAT(mutual, IsOk());
  EXPECT_THAT((*mutual)->Describe(), HasSubstr("client certificates required"));
}

TEST_F(ServerTlsTest, ABadPairAtStartIsAnErrorNamingTheFile) {
  // A key that is not the certificate's.
  auto mismatched = ServerTls::Load({cert_, pki_.rotated_key, ""}, clock_);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_THAT(mismatched.status().message(),
              AllOf(HasSubstr("does not match"), HasSubstr(pki_.rotated_key), HasSubstr(cert_)));
  // A missing key, a certificate that is not PEM, a CA file without a CA.
  auto missing = ServerTls::Load({cert_, dir_ + "/nothing.key", ""}, clock_);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr(dir_ + "/nothing.key"));
  std::ofstream(dir_ + "/garbage.pem") << "not a certificate\n";
  auto garbage = ServerTls::Load({dir_ + "/garbage.pem", key_, ""}, clock_);
  ASSERT_FALSE(garbage.ok());
  EXPECT_THAT(garbage.status().message(),
              AllOf(HasSubstr("TLS certificate"), HasSubstr(dir_ + "/garbage.pem")));
  auto bad_ca = ServerTls::Load({cert_, key_, dir_ + "/garbage.pem"}, clock_);
  ASSERT_FALSE(bad_ca.ok());
  EXPECT_THAT(bad_ca.status().message(), HasSubstr("TLS client CA"));
  // The key's content never appears in an error.
  const std::string key_text = testbed::ReadWholeFile(pki_.key);
  for (const auto& status : {mismatched.status(), missing.status(), garbage.status()}) {
    EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr("PRIVATE KEY")));
  }
}

TEST_F(ServerTlsTest, NewHandshakesTakeChangedFiles) {
  auto loaded = ServerTls::Load({cert_, key_, ""}, clock_);
  ASSERT_THAT(loaded, IsOk());
  ServerTls& tls = **loaded;
  const std::shared_ptr<SSL_CTX> first = tls.Current();
  Put(pki_.rotated_cert, cert_);
  Put(pki_.rotated_key, key_);
  // The files are looked at once a second at most.
  EXPECT_EQ(tls.Current(), first);
  clock_.Advance(absl::Seconds(1));
  const std::shared_ptr<SSL_CTX> second = tls.Current();
  EXPECT_NE(second, first);
  EXPECT_THAT(tls.Describe(), HasSubstr("CN=jawlb rotated"));
  EXPECT_THAT(Metrics(tls), HasSubstr("jawlb_tls_reloads_total{result=\"ok\"} 1"));
  // Nothing changed since: the same context.
  clock_.Advance(absl::Seconds(5));
  EXPECT_EQ(tls.Current(), second);
}

TEST_F(ServerTlsTest, AChangeThatDoesNotLoadKeepsTheOldPair) {
  auto loaded = ServerTls::Load({cert_, key_, ""}, clock_);
  ASSERT_THAT(loaded, IsOk());
  ServerTls& tls = **loaded;
  const std::shared_ptr<SSL_CTX> first = tls.Current();
  // Half a rotation: the new certificate is there, its key not yet.
  Put(pki_.rotated_cert, cert_);
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(tls.Current(), first);
  EXPECT_THAT(tls.Describe(), ::testing::Not(HasSubstr("rotated")));
  EXPECT_THAT(Metrics(tls), HasSubstr("jawlb_tls_reloads_total{result=\"error\"} 1"));
  // Not tried again until the files change again.
  clock_.Advance(absl::Seconds(1));
  EXPECT_EQ(tls.Current(), first);
  EXPECT_THAT(Metrics(tls), HasSubstr("jawlb_tls_reloads_total{result=\"error\"} 1"));
  // The key arrives: the rotation completes.
  Put(pki_.rotated_key, key_);
  clock_.Advance(absl::Seconds(1));
  EXPECT_NE(tls.Current(), first);
  EXPECT_THAT(tls.Describe(), HasSubstr("CN=jawlb rotated"));
}

}  // namespace
}  // namespace jawlb::transport
