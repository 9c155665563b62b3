// What a hostile or careless client can do to the real jawlb binary, and that
// it now costs only that client (issue 13; README, "Limits and what they
// protect"). Each test reproduces the attack against the binary.
#include <atomic>
#include <cstdio>
#include <fstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "grpc/lb/v1/load_balancer.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "envoy/service/load_stats/v3/lrs.grpc.pb.h"
#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/lb_stream.h"
#include "testbed/raw_connection.h"
#include "testbed/subprocess.h"
#include "tests/common/eventually.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {
namespace {

using grpc::lb::v1::LoadBalanceRequest;
using grpc::lb::v1::LoadBalanceResponse;
using ::jawlb::testing::Eventually;
using ::jawlb::testing::IsOk;
using ::testing::HasSubstr;

constexpr absl::Duration kWait = absl::Seconds(90);

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// The value of the sample `name` (labels as written) in /metrics; -1 if absent.
double Metric(int admin_port, const std::string& name) {
  auto metrics = HttpGet(absl::StrCat("http://127.0.0.1:", admin_port, "/metrics"));
  if (!metrics.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(metrics->second, '\n')) {
    if (!absl::StartsWith(line, name + " ")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(name.size() + 1), &value)) return value;
  }
  return -1;
}

int64_t RssBytes(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    int64_t kib = 0;
    if (absl::StartsWith(line, "VmRSS:") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(line.substr(6), "kB")),
                         &kib)) {
      return kib * 1024;
    }
  }
  return -1;
}

// An HTTP/2 client that opens BalanceLoad streams by the thousand on one
// connection and never sends a message on them, nor acknowledges the server's
// SETTINGS (so HTTP/2's stream limit does not bind it). Reads and drops
// whatever comes back, so the server is never blocked writing to it.
class HeadersFlood {
 public:
  explicit HeadersFlood(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
    // Once jawlb has cut the connection, what is still sent may sit in a full
    // window: give up writing rather than wait for the kernel.
    timeval timeout{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
    reader_ = std::thread([this] {
      char buffer[65536];
      while (read(fd_, buffer, sizeof(buffer)) > 0) {
      }
      closed_ = true;
    });
  }
  ~HeadersFlood() {
    shutdown(fd_, SHUT_RDWR);
    reader_.join();
    close(fd_);
  }

  // Sends `streams` more HEADERS frames (the first call: after the preface
  // and an empty SETTINGS frame); false once the server has closed the
  // connection (or left its window full for 5 s).
  bool Send(int streams) {
    std::string out;
    if (next_stream_ == 1) {
      out = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
      out += Frame(0x4, 0, 0, "");  // SETTINGS, no parameters
    }
    const std::string block = RequestHeaders();
    for (int i = 0; i < streams; ++i) {
      out += Frame(0x1, 0x4, next_stream_, block);  // HEADERS, END_HEADERS
      next_stream_ += 2;
      if (out.size() > (1 << 16) || i == streams - 1) {
        if (!WriteAll(out)) return false;
        out.clear();
      }
    }
    return true;
  }
  bool connected() const { return connected_; }
  // Sends `bytes` as they are; false once the server has closed the
  // connection (or left its window full for 5 s).
  bool SendRaw(const std::string& bytes) { return WriteAll(bytes); }
  // Whether the server has closed the connection (the reader saw its end).
  bool closed() const { return closed_.load(); }

  // A BalanceLoad call's request headers, as an HPACK block.
  static std::string RequestHeaders() {
    std::string block;
    for (auto [name, value] : {std::pair{":method", "POST"},
                               {":scheme", "http"},
                               {":path", "/grpc.lb.v1.LoadBalancer/BalanceLoad"},
                               {":authority", "jawlb"},
                               {"content-type", "application/grpc"},
                               {"te", "trailers"}}) {
      block += Literal(name, value);
    }
    return block;
  }
  // One header as a literal field without indexing, new name (HPACK), of
  // names and values under 127 bytes.
  static std::string Literal(absl::string_view name, absl::string_view value) {
    return absl::StrCat(std::string(1, '\0'), std::string(1, static_cast<char>(name.size())), name,
                        std::string(1, static_cast<char>(value.size())), value);
  }
  static std::string Frame(int type, int flags, uint32_t stream, const std::string& payload) {
    std::string frame;
    const size_t length = payload.size();
    frame += static_cast<char>(length >> 16);
    frame += static_cast<char>(length >> 8);
    frame += static_cast<char>(length);
    frame += static_cast<char>(type);
    frame += static_cast<char>(flags);
    for (int shift = 24; shift >= 0; shift -= 8) frame += static_cast<char>(stream >> shift);
    return frame + payload;
  }

 private:
  bool WriteAll(const std::string& data) {
    for (size_t done = 0; done < data.size();) {
      const ssize_t n = send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  uint32_t next_stream_ = 1;
  std::atomic<bool> closed_{false};
  std::thread reader_;
};

std::unique_ptr<JawlbProcess> StartJawlb(std::vector<std::string> env) {
  const std::string dir = MakeTempDir("limits_test.");
  env.push_back("JAWLB_ENDPOINTS=127.0.0.2:1");
  env.push_back("JAWLB_ADMINHOST=127.0.0.1");
  env.push_back("JAWLB_ADMINPORT=0");
  auto jawlb = JawlbProcess::Start(JAWLB_BINARY, std::move(env), dir + "/jawlb.log");
  EXPECT_THAT(jawlb, IsOk());
  return jawlb.ok() ? *std::move(jawlb) : nullptr;
}

// Item 1: 30,000 HEADERS frames on one connection took RSS from 25 MB to
// 498 MB. Now the connection gets its 100 streams; the first one over shows a
// client that ignored HTTP/2's stream limit, and its connection is cut, which
// ends all of them and makes the rest of its frames nothing. A real client on
// another connection is served throughout.
TEST(LimitsTest, AStreamFloodOnOneConnectionCostsOnlyItsSender) {
  auto jawlb = StartJawlb({"JAWLB_FIRSTMESSAGETIMEOUT=2s"});
  ASSERT_NE(jawlb, nullptr);
  LbStream client(jawlb->port());
  LoadBalanceResponse list;
  ASSERT_TRUE(client.ReadList(&list));
  const int64_t rss_before = RssBytes(jawlb->process().pid());

  // 500 streams, 400 over the limit, then (the connection cut) 29,500 more.
  HeadersFlood flood(jawlb->port());
  ASSERT_TRUE(flood.connected());
  flood.Send(500);
  // On gRPC's server, the first stream over the limit shows a client that
  // ignored our SETTINGS: its connection is cut. Jawlb's HTTP/2 server refuses
  // a connection's worth more (REFUSED_STREAM: a client may have raced our
  // SETTINGS), then cuts it. Either way the frames it sends after become no
  // more streams.
  const bool h2 = OnH2Transport();
  ASSERT_TRUE(Eventually(
      [&] {
        return Metric(jawlb->admin_port(),
                      h2 ? "jawlb_h2_connections_cut_total" : "jawlb_connections_cut_total") == 1;
      },
      kWait));
  flood.Send(29500);  // refused by the kernel, or sent and never read
  // Whatever the transport had parsed before the cut is refused, the rest end
  // with the connection.
  ASSERT_TRUE(Eventually([&] { return Metric(jawlb->admin_port(), "jawlb_clients") == 1; }, kWait));
  const double refused =
      Metric(jawlb->admin_port(), h2 ? "jawlb_h2_streams_refused_total"
                                     : "jawlb_streams_refused_total{limit=\"connection\"}");
  EXPECT_GE(refused, 1);
  // Nothing sent after the cut became a stream: what was admitted (some after
  // others had ended) and refused is at most the first part and the client.
  EXPECT_LE(refused + Metric(jawlb->admin_port(), "jawlb_streams_started_total"), 500 + 1 + 1);
  const int64_t rss_after = RssBytes(jawlb->process().pid());
  // 16 KiB a stream would be 470 MB for the 30,000 (docs/limits.md has what a
  // single 1 MB burst of them costs). Sanitizers keep freed memory in
  // quarantine: their RSS says nothing about this.
  if (!kSanitized) {
    EXPECT_LT(rss_after - rss_before, 64 << 20) << rss_before << " -> " << rss_after;
  }

  // The real client was never touched, and new ones are served.
  EXPECT_EQ(Metric(jawlb->admin_port(), "jawlb_clients"), 1);
  LbStream another(jawlb->port());
  ASSERT_TRUE(another.ReadList(&list));
  // One log line for the flood, not one per stream.
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(jawlb->process().Output(), '\n')) {
    lines += absl::StrContains(line, "stream refused") || absl::StrContains(line, " cut: ") ? 1 : 0;
  }
  EXPECT_LE(lines, 3);
}

// Issue 16's attacks on gRPC 1.51's HTTP/2 server, against jawlb's own
// (nghttp2 with the fixes): each costs its sender the connection, and jawlb
// little. gRPC C++'s server has no defence (README: Limits).

// CONTINUATION flood (CVE-2024-28182): one stream's header block without end.
// On gRPC 1.51, 160 MB of it raised RSS by 290 MB and the connection stayed.
TEST(LimitsTest, AContinuationFloodEndsItsConnection) {
  if (!OnH2Transport()) GTEST_SKIP() << "gRPC 1.51's transport has no defence (README)";
  auto jawlb = StartJawlb({});
  ASSERT_NE(jawlb, nullptr);
  const int64_t rss_before = RssBytes(jawlb->process().pid());
  HeadersFlood flood(jawlb->port());
  ASSERT_TRUE(flood.connected());
  std::string hello = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  hello += HeadersFlood::Frame(0x4, 0, 0, "");
  hello += HeadersFlood::Frame(0x1, 0, 1, HeadersFlood::RequestHeaders());  // no END_HEADERS
  ASSERT_TRUE(flood.SendRaw(hello));
  // CONTINUATION frames of 16 KiB of headers each (120-byte values), until
  // the server hangs up; 10,000 of them would be 160 MB.
  std::string fragment;
  for (int i = 0; fragment.size() < 16000; ++i) {
    fragment += HeadersFlood::Literal(absl::StrCat("x-flood-", i), std::string(120, 'v'));
  }
  const std::string frame = HeadersFlood::Frame(0x9, 0, 1, fragment);
  int sent = 0;
  while (sent < 10000 && !flood.closed() && flood.SendRaw(frame)) ++sent;
  ASSERT_TRUE(Eventually([&] { return flood.closed(); }, kWait)) << sent << " frames sent";
  EXPECT_LT(sent, 10000);
  if (!kSanitized) {
    EXPECT_LT(RssBytes(jawlb->process().pid()) - rss_before, 16 << 20);
  }
  LbStream client(jawlb->port());
  LoadBalanceResponse list;
  EXPECT_TRUE(client.ReadList(&list));
}

// Rapid reset (CVE-2023-44487): streams opened and reset at once, without
// end. On gRPC 1.51, 200,000 of them in 6 s cost 1.6 cores.
TEST(LimitsTest, RapidResetsEndTheirConnection) {
  if (!OnH2Transport()) GTEST_SKIP() << "gRPC 1.51's transport has no defence (README)";
  auto jawlb = StartJawlb({});
  ASSERT_NE(jawlb, nullptr);
  HeadersFlood flood(jawlb->port());
  ASSERT_TRUE(flood.connected());
  std::string bytes = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  bytes += HeadersFlood::Frame(0x4, 0, 0, "");
  const std::string block = HeadersFlood::RequestHeaders();
  const std::string cancel("\0\0\0\x08", 4);  // RST_STREAM CANCEL
  int sent = 0;
  for (uint32_t stream = 1; sent < 200000 && !flood.closed(); stream += 2) {
    bytes += HeadersFlood::Frame(0x1, 0x4, stream, block);
    bytes += HeadersFlood::Frame(0x3, 0, stream, cancel);
    if (++sent % 500 == 0) {
      if (!flood.SendRaw(bytes)) break;
      bytes.clear();
    }
  }
  ASSERT_TRUE(Eventually([&] { return flood.closed(); }, kWait)) << sent << " pairs sent";
  // nghttp2 allows a burst of 1,000 resets, then 33 a second: the streams
  // jawlb started are about that many (the rest sat in socket buffers when
  // the connection ended, and were never read).
  const double started = Metric(jawlb->admin_port(), "jawlb_streams_started_total");
  std::printf("rapid reset: %d HEADERS+RST_STREAM pairs sent, %.0f streams started\n", sent,
              started);
  EXPECT_LT(started, 2000);
  EXPECT_TRUE(Eventually([&] { return Metric(jawlb->admin_port(), "jawlb_clients") == 0; }, kWait));
  LbStream client(jawlb->port());
  LoadBalanceResponse list;
  EXPECT_TRUE(client.ReadList(&list));
}

// Item 1: streams that never send their initial request lived as long as the
// connection answered pings; now they end after JAWLB_FIRSTMESSAGETIMEOUT.
TEST(LimitsTest, StreamsWithoutAFirstMessageEndAfterTheTimeout) {
  auto jawlb = StartJawlb({"JAWLB_FIRSTMESSAGETIMEOUT=1s"});
  ASSERT_NE(jawlb, nullptr);
  HeadersFlood silent(jawlb->port());
  ASSERT_TRUE(silent.Send(5));
  ASSERT_TRUE(Eventually([&] { return Metric(jawlb->admin_port(), "jawlb_clients") == 5; }, kWait));
  EXPECT_TRUE(Eventually(
      [&] {
        return Metric(jawlb->admin_port(),
                      "jawlb_streams_ended_total{code=\"DEADLINE_EXCEEDED\"}") == 5;
      },
      kWait));
  EXPECT_TRUE(Eventually([&] { return Metric(jawlb->admin_port(), "jawlb_clients") == 0; }, kWait));
  EXPECT_EQ(Metric(jawlb->admin_port(), "jawlb_connections_cut_total"), 0);
}

// The same for xDS: an ADS or LRS stream that never sends a request ends
// with DEADLINE_EXCEEDED, saying which setting.
TEST(LimitsTest, SilentXdsStreamsEndAfterTheTimeout) {
  auto jawlb = StartJawlb({"JAWLB_FIRSTMESSAGETIMEOUT=1s"});
  ASSERT_NE(jawlb, nullptr);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", jawlb->port()),
                                     grpc::InsecureChannelCredentials());
  grpc::ClientContext ads_context;
  ads_context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  auto ads_stub = envoy::service::discovery::v3::AggregatedDiscoveryService::NewStub(channel);
  auto ads = ads_stub->StreamAggregatedResources(&ads_context);
  grpc::ClientContext lrs_context;
  lrs_context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
  auto lrs_stub = envoy::service::load_stats::v3::LoadReportingService::NewStub(channel);
  auto lrs = lrs_stub->StreamLoadStats(&lrs_context);

  envoy::service::discovery::v3::DiscoveryResponse response;
  EXPECT_FALSE(ads->Read(&response));
  grpc::Status status = ads->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_THAT(status.error_message(),
              HasSubstr("no DiscoveryRequest within 1s of opening the stream "
                        "(JAWLB_FIRSTMESSAGETIMEOUT)"));
  envoy::service::load_stats::v3::LoadStatsResponse stats;
  EXPECT_FALSE(lrs->Read(&stats));
  status = lrs->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("no LoadStatsRequest within 1s"));
  EXPECT_TRUE(Eventually([&] { return Metric(jawlb->admin_port(), "jawlb_xds_clients") == 0; }));
}

// Item 1: past JAWLB_MAXSTREAMS in all, or JAWLB_MAXSTREAMSPERPEER from one
// address, streams are refused with RESOURCE_EXHAUSTED saying which limit.
TEST(LimitsTest, StreamsBeyondTheTotalAndPerPeerLimitsAreRefused) {
  auto jawlb = StartJawlb({"JAWLB_MAXSTREAMS=3", "JAWLB_MAXSTREAMSPERPEER=2"});
  ASSERT_NE(jawlb, nullptr);
  LoadBalanceResponse list;
  LbStream first(jawlb->port());
  LbStream second(jawlb->port());
  ASSERT_TRUE(first.ReadList(&list));
  ASSERT_TRUE(second.ReadList(&list));
  LbStream third(jawlb->port());  // a third connection from 127.0.0.1
  EXPECT_FALSE(third.ReadList(&list));
  grpc::Status status = third.rw->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("JAWLB_MAXSTREAMSPERPEER"));
  EXPECT_EQ(Metric(jawlb->admin_port(), "jawlb_streams_refused_total{limit=\"peer\"}"), 1);
  first.context.TryCancel();
  first.rw->Finish();
  // A stream that left makes room.
  ASSERT_TRUE(Eventually([&] { return Metric(jawlb->admin_port(), "jawlb_clients") == 1; }));
  LbStream fourth(jawlb->port());
  EXPECT_TRUE(fourth.ReadList(&list));
}

// Item 2: 100 streams with 4 MB names took RSS to 521 MB, and /debug/state to
// 400 MB. Now a name over 255 bytes ends the stream with INVALID_ARGUMENT, and
// a message over 64 KiB is refused by gRPC before it is buffered whole.
TEST(LimitsTest, LongNamesAndLargeMessagesAreRefused) {
  auto jawlb = StartJawlb({});
  ASSERT_NE(jawlb, nullptr);
  LoadBalanceResponse list;
  LbStream long_name(jawlb->port(), {}, std::string(1000, 'a'));
  EXPECT_FALSE(long_name.ReadList(&list));
  grpc::Status status = long_name.rw->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("name is 1000 bytes; at most 255"));

  LbStream huge(jawlb->port(), {}, std::string(4 << 20, 'a'));
  EXPECT_FALSE(huge.ReadList(&list));
  EXPECT_EQ(huge.rw->Finish().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  LbStream fine(jawlb->port(), {}, std::string(255, 'a'));
  EXPECT_TRUE(fine.ReadList(&list));
  auto state = HttpGet(absl::StrCat("http://127.0.0.1:", jawlb->admin_port(), "/debug/state"));
  ASSERT_THAT(state, IsOk());
  EXPECT_LT(state->second.size(), 64u << 10);
}

// Item 5: a stream sending malformed load reports in a loop wrote a warning
// each (30 MB of log in 2 s). Now: the first, then one a minute.
TEST(LimitsTest, RejectedLoadReportsAreLoggedOnceAMinute) {
  auto jawlb = StartJawlb({});
  ASSERT_NE(jawlb, nullptr);
  LbStream stream(jawlb->port());
  LoadBalanceResponse list;
  ASSERT_TRUE(stream.ReadList(&list));
  LoadBalanceRequest report;
  report.mutable_client_stats()->set_num_calls_started(-1);
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(stream.rw->Write(report));
  ASSERT_TRUE(Eventually(
      [&] { return Metric(jawlb->admin_port(), "jawlb_client_stats_rejected_total") == 2000; },
      kWait));
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(jawlb->process().Output(), '\n')) {
    lines += absl::StrContains(line, "ignoring load report") ? 1 : 0;
  }
  EXPECT_EQ(lines, 1);
  stream.context.TryCancel();
}

// Item 5: a client's name reaches the log (at debug level in single mode, at
// info in multi mode); a newline in it must not start a line of its own.
TEST(LimitsTest, ANameCannotForgeALogLine) {
  auto jawlb = StartJawlb({"JAWLB_LOGLEVEL=debug"});
  ASSERT_NE(jawlb, nullptr);
  LbStream stream(jawlb->port(), {}, "svc\nFORGED [error] jawlb is down");
  LoadBalanceResponse list;
  ASSERT_TRUE(stream.ReadList(&list));
  ASSERT_THAT(jawlb->process().WaitForLine("FORGED", kWait), IsOk());
  for (absl::string_view line : absl::StrSplit(jawlb->process().Output(), '\n')) {
    EXPECT_FALSE(absl::StartsWith(line, "FORGED")) << line;
  }
  EXPECT_THAT(jawlb->process().Output(), HasSubstr("svc\\nFORGED"));
  stream.context.TryCancel();
}

// Item 10: SIGHUP, SIGUSR1 and SIGUSR2 killed jawlb at once; now each is
// logged and ignored, and clients keep their stream.
TEST(LimitsTest, StraySignalsAreLoggedAndIgnored) {
  auto jawlb = StartJawlb({});
  ASSERT_NE(jawlb, nullptr);
  LbStream stream(jawlb->port());
  LoadBalanceResponse list;
  ASSERT_TRUE(stream.ReadList(&list));
  for (int signal : {SIGHUP, SIGUSR1, SIGUSR2}) {
    kill(jawlb->process().pid(), signal);
  }
  ASSERT_THAT(jawlb->process().WaitForLine("received SIGUSR2: ignored", kWait), IsOk());
  EXPECT_THAT(jawlb->process().Output(), HasSubstr("received SIGHUP: ignored"));
  EXPECT_FALSE(jawlb->process().Poll().has_value());
  // Still serving: the stream is open and a new one gets its list.
  LbStream another(jawlb->port());
  ASSERT_TRUE(another.ReadList(&list));
  kill(jawlb->process().pid(), SIGQUIT);  // drains like SIGTERM
  EXPECT_FALSE(stream.ReadList(&list));
  EXPECT_EQ(stream.rw->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(ExitedWith(jawlb->process().Stop(SIGQUIT, kWait), 0)) << jawlb->process().Output();
}

// Item 10: a second SIGTERM during the drain delay ends the drain at once
// (the streams end with UNAVAILABLE), instead of waiting the delay out.
TEST(LimitsTest, ASecondSigtermHurriesTheDrain) {
  auto jawlb = StartJawlb({"JAWLB_DRAINDELAY=10m", "JAWLB_SHUTDOWNGRACEPERIOD=10m"});
  ASSERT_NE(jawlb, nullptr);
  LbStream stream(jawlb->port());
  LoadBalanceResponse list;
  ASSERT_TRUE(stream.ReadList(&list));
  kill(jawlb->process().pid(), SIGTERM);
  ASSERT_THAT(jawlb->process().WaitForLine("draining: not ready", kWait), IsOk());
  kill(jawlb->process().pid(), SIGTERM);
  EXPECT_FALSE(stream.ReadList(&list));
  EXPECT_EQ(stream.rw->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(ExitedWith(jawlb->process().Stop(SIGTERM, kWait), 0)) << jawlb->process().Output();
  EXPECT_THAT(jawlb->process().Output(), HasSubstr("while draining: ending the open streams now"));
}

// Item 6: the admin port read bodies of any size (a 300 MB POST: +300 MB RSS),
// 16 slow connections kept /healthz timing out, 501 idle ones used up
// descriptors, and "all interfaces" was IPv4 only. Now: GET/HEAD only, no
// body read, a deadline for the whole request, 64 connections at most (a new
// one displaces the slowest), and dual stack.
TEST(LimitsTest, TheAdminPortServesProbesWhateverOtherClientsDo) {
  auto jawlb = StartJawlb({"JAWLB_ADMINHOST="});
  ASSERT_NE(jawlb, nullptr);
  const int admin = jawlb->admin_port();
  const int64_t rss_before = RssBytes(jawlb->process().pid());
  // A large body is never read: the answer comes before it is sent.
  {
    RawConnection post("127.0.0.1", admin);
    ASSERT_TRUE(post.Send("POST /nowhere HTTP/1.1\r\nContent-Length: 300000000\r\n\r\n"));
    post.Send(std::string(1 << 20, 'x'));
    EXPECT_THAT(post.ReadAll(), HasSubstr("HTTP/1.1 405"));
    RawConnection get_body("127.0.0.1", admin);
    ASSERT_TRUE(get_body.Send("GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"));
    EXPECT_THAT(get_body.ReadAll(), HasSubstr("HTTP/1.1 413"));
    RawConnection huge_headers("127.0.0.1", admin);
    huge_headers.Send("GET / HTTP/1.1\r\nX: " + std::string(20000, 'y'));
    EXPECT_THAT(huge_headers.ReadAll(), HasSubstr("HTTP/1.1 431"));
  }
  EXPECT_LT(RssBytes(jawlb->process().pid()) - rss_before, 16 << 20);
  // 200 slow clients that never finish their request, and idle ones.
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 200; ++i) {
    slow.push_back(std::make_unique<RawConnection>(i % 2 ? "127.0.0.1" : "::1", admin));
    ASSERT_TRUE(slow.back()->connected());
    if (i % 4 == 0) slow.back()->Send("GET /healthz HTT");
  }
  // Probes are answered throughout, on both address families.
  for (const char* host : {"127.0.0.1", "[::1]"}) {
    auto healthz = HttpGet(absl::StrCat("http://", host, ":", admin, "/healthz"));
    ASSERT_THAT(healthz, IsOk());
    EXPECT_EQ(healthz->first, 200) << host;
  }
  EXPECT_LE(Metric(admin, "jawlb_admin_connections"), 64);
  EXPECT_GT(Metric(admin, "jawlb_admin_connections_closed_total{reason=\"displaced\"}"), 100);
  // The slow ones still open are cut at the request deadline.
  EXPECT_TRUE(Eventually(
      [&] { return Metric(admin, "jawlb_admin_connections_closed_total{reason=\"timeout\"}") > 0; },
      kWait));
  EXPECT_TRUE(Eventually([&] { return Metric(admin, "jawlb_admin_connections") <= 1; }, kWait));
}

// Item 7: with a low file limit, one EMFILE and gRPC 1.51's listener never
// accepted again (/healthz stayed 503 until a restart). Now jawlb raises its
// soft limit to the hard one, keeps connections on both ports below it, and
// its own listener survives running out: once the crowd leaves, new clients
// are served.
TEST(LimitsTest, ACrowdOverTheFileLimitCostsOnlyTheCrowd) {
  const std::string dir = MakeTempDir("limits_test.");
  auto jawlb = JawlbProcess::Start(JAWLB_BINARY, {"JAWLB_ENDPOINTS=127.0.0.2:1"},
                                   dir + "/jawlb.log", {"/usr/bin/prlimit", "--nofile=256:256"});
  ASSERT_THAT(jawlb, IsOk());
  const int port = (*jawlb)->port();
  const int admin = (*jawlb)->admin_port();
  LbStream before(port);
  LoadBalanceResponse list;
  ASSERT_TRUE(before.ReadList(&list));
  // 400 gRPC connections and 100 admin ones: more than 256 descriptors.
  std::vector<std::unique_ptr<RawConnection>> crowd;
  for (int i = 0; i < 400; ++i) crowd.push_back(std::make_unique<RawConnection>("127.0.0.1", port));
  for (int i = 0; i < 100; ++i)
    crowd.push_back(std::make_unique<RawConnection>("127.0.0.1", admin));
  ASSERT_TRUE(Eventually(
      [&] { return Metric(admin, "jawlb_connections_refused_total{reason=\"connections\"}") > 0; },
      kWait));
  EXPECT_THAT((*jawlb)->process().Output(), HasSubstr("JAWLB_MAXCONNECTIONS"));
  EXPECT_LE(Metric(admin, "jawlb_connections"), Metric(admin, "jawlb_connections_limit"));
  EXPECT_LT(Metric(admin, "process_open_fds"), 256);
  // The client connected before was never touched.
  EXPECT_EQ(Metric(admin, "jawlb_clients"), 1);
  crowd.clear();
  // Each closed connection stops counting (jawlb's HTTP/2 server says when it
  // closes one; for gRPC's server the listener finds out within a second).
  EXPECT_TRUE(Eventually([&] { return Metric(admin, "jawlb_connections") == 1; }, kWait));
  // Once they are gone, new clients and probes are served on both ports.
  ASSERT_TRUE(Eventually(
      [&] {
        LbStream after(port);
        LoadBalanceResponse fresh;
        return after.ReadList(&fresh);
      },
      kWait));
  auto healthz = HttpGet(absl::StrCat("http://127.0.0.1:", admin, "/healthz"));
  ASSERT_THAT(healthz, IsOk());
  EXPECT_EQ(healthz->first, 200) << healthz->second;
  before.context.TryCancel();
}

// Item 8: a writer caught half-way sent clients a wrong port (127.0.0.12:5 for
// :500) or, after `> file`, the "no backends" drop; a FIFO at the path hung
// the poller and then SIGTERM. Now only a complete regular file is read.
// jawlb serving JAWLB_ENDPOINTSFILE (at first 127.0.0.2:1), and a client that
// has its first list.
struct FileFedJawlb {
  FileFedJawlb() {
    std::ofstream(file) << "127.0.0.2:1\n";
    auto started =
        JawlbProcess::Start(JAWLB_BINARY, {"JAWLB_ENDPOINTSFILE=" + file}, dir + "/jawlb.log");
    EXPECT_THAT(started, IsOk());
    if (!started.ok()) return;
    jawlb = *std::move(started);
    stream = std::make_unique<LbStream>(jawlb->port());
    LoadBalanceResponse list;
    EXPECT_TRUE(stream->ReadList(&list));
  }
  ~FileFedJawlb() {
    if (stream != nullptr) stream->context.TryCancel();
  }
  // Writes the file as it should be written: by rename.
  void Replace(const std::string& content) const {
    std::ofstream(file + ".tmp") << content;
    std::rename((file + ".tmp").c_str(), file.c_str());
  }

  const std::string dir = MakeTempDir("limits_test.");
  const std::string file = dir + "/endpoints";
  std::unique_ptr<JawlbProcess> jawlb;
  std::unique_ptr<LbStream> stream;
};

TEST(LimitsTest, AnEndpointsFileIsReadOnlyWhenComplete) {
  FileFedJawlb fed;
  ASSERT_NE(fed.stream, nullptr);
  const std::string& file = fed.file;
  JawlbProcess* jawlb = fed.jawlb.get();
  LoadBalanceResponse list;
  { std::ofstream truncate(file); }  // what `cmd > file` does first
  ASSERT_THAT(jawlb->process().WaitForLine("taken for a write in progress", kWait), IsOk());
  std::ofstream(file) << "127.0.0.12:5";  // the writer pauses mid-line
  ASSERT_THAT(jawlb->process().WaitForLine("does not end with a newline", kWait), IsOk());
  std::ofstream(file) << "127.0.0.12:500\n";
  // The next list the client gets is the complete one: nothing in between.
  ASSERT_TRUE(fed.stream->ReadList(&list));
  ASSERT_EQ(list.server_list().servers_size(), 1);
  EXPECT_EQ(list.server_list().servers(0).port(), 500);
  // A FIFO in its place keeps the list and blocks nothing: SIGTERM ends jawlb.
  ASSERT_EQ(std::remove(file.c_str()), 0);
  ASSERT_EQ(mkfifo(file.c_str(), 0644), 0);
  ASSERT_THAT(jawlb->process().WaitForLine("is a FIFO; keeping the last 1 backends", kWait),
              IsOk());
  EXPECT_TRUE(ExitedWith(jawlb->process().Stop(SIGTERM, kWait), 0));
}

// Item 13: the endpoints file accepted jawlb's own address (clients would send
// their calls to the balancer) and addresses no call can reach.
TEST(LimitsTest, TheEndpointsFileCannotNameJawlbItself) {
  FileFedJawlb fed;
  ASSERT_NE(fed.stream, nullptr);
  // Unreachable addresses make the file malformed: the last list stays.
  fed.Replace("127.0.0.3:1\n0.0.0.0:1\n");
  ASSERT_THAT(fed.jawlb->process().WaitForLine("0.0.0.0/8 is not an address to call", kWait),
              IsOk());
  // jawlb's own address is left out, with an error saying so.
  fed.Replace(absl::StrCat("127.0.0.3:1\n127.0.0.1:", fed.jawlb->port(), "\n"));
  LoadBalanceResponse list;
  ASSERT_TRUE(fed.stream->ReadList(&list));
  ASSERT_EQ(list.server_list().servers_size(), 1);
  EXPECT_EQ(list.server_list().servers(0).ip_address(), std::string("\x7f\x00\x00\x03", 4));
  EXPECT_THAT(fed.jawlb->process().Output(), HasSubstr("is jawlb's own gRPC address"));
}

// Item 11: 110,000 IPv6 backends made a 4.5 MB list; every client failed with
// RESOURCE_EXHAUSTED and reconnected in a loop, and jawlb said nothing. Now the
// list is cut to fit JAWLB_MAXLISTBYTES, with an error in the log and a metric.
TEST(LimitsTest, AListOverTheClientsReceiveLimitIsCutToFit) {
  const std::string dir = MakeTempDir("limits_test.");
  {
    std::ofstream out(dir + "/endpoints");
    for (int i = 1; i <= 110000; ++i)
      out << "[fd00::" << std::hex << i / 65536 << ":" << i % 65536 << "]:443\n";
  }
  auto jawlb = JawlbProcess::Start(JAWLB_BINARY,
                                   {"JAWLB_ENDPOINTSFILE=" + dir + "/endpoints",
                                    "JAWLB_ADMINHOST=127.0.0.1", "JAWLB_ADMINPORT=0"},
                                   dir + "/jawlb.log");
  ASSERT_THAT(jawlb, IsOk());
  LbStream stream((*jawlb)->port());  // gRPC's default receive limit: 4 MiB
  LoadBalanceResponse list;
  ASSERT_TRUE(stream.ReadList(&list)) << stream.rw->Finish().error_message();
  EXPECT_GT(list.server_list().servers_size(), 50000);
  EXPECT_LT(list.server_list().servers_size(), 110000);
  EXPECT_LE(list.ByteSizeLong(), 4000000u);
  EXPECT_EQ(Metric((*jawlb)->admin_port(), "jawlb_lists_cut_total"), 1);
  EXPECT_EQ(Metric((*jawlb)->admin_port(), "jawlb_list_backends_cut"),
            110000 - list.server_list().servers_size());
  EXPECT_THAT((*jawlb)->process().Output(), HasSubstr("the list of 110000 backends is over"));
  stream.context.TryCancel();
}

}  // namespace
}  // namespace jawlb::testbed
