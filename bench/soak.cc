// soak: jawlb for a long time under everything at once (scripts/soak.sh runs
// it; not in CI). The test Kubernetes API server and the real jawlb binary;
// then, for --minutes:
//   - the service changes every second: each change adds the backend of the
//     next version and drops the oldest, so a list names the version it shows
//     (its newest address) and always has --backends entries;
//   - an API server fault every minute, in turn: reset watches, a stall,
//     garbage, 410 Expired, compaction, a 500 storm, a 429 with Retry-After;
//   - --clients grpclb clients churning: each on a connection of its own,
//     holding its stream for 5-60 s, then gone and replaced;
//   - --stuck streams that never read after their first list, and --checkers
//     clients whose every list is recorded;
//   - /metrics and /debug/state scraped every 2 s.
// Every 10 s jawlb's RSS, descriptors and threads are sampled into
// OUT/samples.csv. At the end it prints, and writes to OUT/summary.txt, how
// stale the checkers' lists ever were (for each change, when each checker had
// it), and how many lists were empty or short: there must be none.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/lb/v1/load_balancer.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/proto_utils.h"

#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/kube_api.h"
#include "testbed/subprocess.h"

namespace jawlb::bench {
namespace {

struct Options {
  int minutes = 60;
  int clients = 2000;
  int checkers = 50;
  int stuck = 50;
  int backends = 10;
  std::string out = "soak-out";
};

// The address of version `v` (10.x.y.z, v >= 1), and back.
std::string VersionIp(int64_t v) {
  return absl::StrCat("10.", 1 + v / 65536, ".", (v / 256) % 256, ".", v % 256);
}
int64_t VersionOf(const std::string& ip4) {  // 4 bytes
  if (ip4.size() != 4) return -1;
  const auto b = [&](int i) { return static_cast<int64_t>(static_cast<uint8_t>(ip4[i])); };
  return (b(1) - 1) * 65536 + b(2) * 256 + b(3);
}

// What the checkers saw: per checker, each list's arrival and version.
struct Record {
  absl::Time at;
  int64_t version;
};

class Stream {
 public:
  enum class Kind { kChurn, kChecker, kStuck };
  struct Tag {
    Stream* stream;
    int op;
  };

  Stream(Kind kind, int port, grpc::CompletionQueue* cq, absl::Time end) : kind_(kind), end_(end) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                         grpc::InsecureChannelCredentials(), args);
    stub_ = std::make_unique<grpc::GenericStub>(channel_);
    call_ = stub_->PrepareCall(&context_, "/grpc.lb.v1.LoadBalancer/BalanceLoad", cq);
    grpc::lb::v1::LoadBalanceRequest initial;
    initial.mutable_initial_request()->set_name("echo.default.svc.cluster.local:50051");
    bool own = false;
    (void)grpc::SerializationTraits<grpc::lb::v1::LoadBalanceRequest>::Serialize(initial, &out_,
                                                                                 &own);
    call_->StartCall(&start_);
  }

  // A completion, on the poller's thread.
  void Handle(int op, bool ok) {
    if (op == 0) {  // started
      if (!ok) return Finish();
      call_->Write(out_, &write_);
      call_->Read(&in_, &read_);
    } else if (op == 2) {  // read
      if (!ok) return Finish();
      OnMessage();
    } else if (op == 3) {  // finished
      done_.store(true, std::memory_order_release);
    }
  }

  // Ends the stream (main thread). A stuck stream has no read outstanding to
  // notice the cancel: it is finished here.
  void Cancel() {
    context_.TryCancel();
    if (kind_ == Kind::kStuck && lists_.load() > 0) Finish();
  }
  bool done() const { return done_.load(std::memory_order_acquire); }
  absl::Time end() const { return end_; }
  Kind kind() const { return kind_; }
  // Checkers: every list. Read after done() or under the caller's care.
  std::vector<Record> records() const {
    absl::MutexLock lock(&mu_);
    return records_;
  }
  int64_t empty() const { return empty_.load(); }
  int64_t short_lists() const { return short_.load(); }
  int64_t lists() const { return lists_.load(); }

  static int expected_size;  // --backends

 private:
  void OnMessage() {
    grpc::lb::v1::LoadBalanceResponse response;
    const bool parsed =
        grpc::SerializationTraits<grpc::lb::v1::LoadBalanceResponse>::Deserialize(&in_, &response)
            .ok();
    if (parsed && response.has_server_list()) {
      lists_.fetch_add(1);
      int64_t newest = -1;
      int servers = 0;
      for (const auto& server : response.server_list().servers()) {
        if (server.drop()) continue;
        ++servers;
        newest = std::max(newest, VersionOf(server.ip_address()));
      }
      if (servers == 0) empty_.fetch_add(1);
      if (servers > 0 && servers < expected_size) short_.fetch_add(1);
      if (kind_ == Kind::kChecker) {
        absl::MutexLock lock(&mu_);
        records_.push_back({absl::Now(), newest});
      }
      if (kind_ == Kind::kStuck) return;  // never reads again
    }
    call_->Read(&in_, &read_);
  }
  void Finish() { call_->Finish(&status_, &finish_); }

  const Kind kind_;
  const absl::Time end_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::ByteBuffer out_, in_;
  grpc::Status status_;
  Tag start_{this, 0}, write_{this, 1}, read_{this, 2}, finish_{this, 3};
  std::atomic<bool> done_{false};
  std::atomic<int64_t> empty_{0}, short_{0}, lists_{0};
  mutable absl::Mutex mu_;
  std::vector<Record> records_ ABSL_GUARDED_BY(mu_);
};
int Stream::expected_size = 10;

// One number from a /proc/PID/status line ("VmRSS:", "Threads:").
int64_t StatusField(int pid, const std::string& field) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field, 0) != 0) continue;
    int64_t value = 0;
    std::string digits;
    for (char c : line) {
      if (c >= '0' && c <= '9') digits += c;
    }
    return absl::SimpleAtoi(digits, &value) ? value : -1;
  }
  return -1;
}

int64_t OpenDescriptors(int pid) {
  std::error_code error;
  int64_t count = 0;
  for (auto it = std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"), error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

absl::Status PutVersion(testbed::KubeApi& api, int64_t v, int backends) {
  std::vector<std::pair<std::string, std::string>> endpoints;
  for (int64_t i = std::max<int64_t>(1, v - backends + 1); i <= v; ++i) {
    endpoints.emplace_back(VersionIp(i), "ready");
  }
  return api.Put("endpointslices",
                 testbed::EndpointSliceJson("echo-soak", "echo", 50051, endpoints));
}

bool ParseFlags(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : arg.substr(eq + 1);
    bool ok = true;
    if (name == "--minutes")
      ok = absl::SimpleAtoi(value, &options.minutes);
    else if (name == "--clients")
      ok = absl::SimpleAtoi(value, &options.clients);
    else if (name == "--checkers")
      ok = absl::SimpleAtoi(value, &options.checkers);
    else if (name == "--stuck")
      ok = absl::SimpleAtoi(value, &options.stuck);
    else if (name == "--backends")
      ok = absl::SimpleAtoi(value, &options.backends);
    else if (name == "--out")
      options.out = value;
    else
      ok = false;
    if (!ok) {
      std::fprintf(stderr,
                   "bad flag %s (--minutes --clients --checkers --stuck --backends --out)\n",
                   arg.c_str());
      return false;
    }
  }
  return options.backends >= 2 && options.minutes >= 1;
}

int Run(const Options& options) {
  std::filesystem::create_directories(options.out);
  Stream::expected_size = options.backends;
  const std::string dir = testbed::MakeTempDir("soak.");
  auto api = testbed::KubeApi::Start(KUBEAPI_BINARY, dir, KUBECTL_BINARY, "1s");
  if (!api.ok()) return std::fprintf(stderr, "%s\n", api.status().ToString().c_str()), 1;
  int64_t version = options.backends;
  if (absl::Status s = PutVersion(**api, version, options.backends); !s.ok()) {
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  }
  auto jawlb = testbed::JawlbProcess::Start(
      JAWLB_BINARY,
      {"JAWLB_SERVICE=echo", "KUBECONFIG=" + (*api)->kubeconfig(), "JAWLB_LOGLEVEL=info",
       "JAWLB_WATCHSTALLTIMEOUT=5s", "JAWLB_MAXSTREAMS=1000000", "JAWLB_MAXSTREAMSPERPEER=1000000",
       "JAWLB_MAXCONNECTIONSPERPEER=1000000"},
      dir + "/jawlb.log");
  if (!jawlb.ok()) return std::fprintf(stderr, "%s\n", jawlb.status().ToString().c_str()), 1;
  const int port = (*jawlb)->port();
  const int pid = (*jawlb)->process().pid();
  const std::string admin = absl::StrCat("http://127.0.0.1:", (*jawlb)->admin_port());
  std::printf("soak: jawlb pid %d on :%d, logs in %s, %d minutes\n", pid, port, dir.c_str(),
              options.minutes);

  const absl::Time start = absl::Now();
  const absl::Time stop = start + absl::Minutes(options.minutes);
  std::atomic<bool> running{true};

  // Changes: one a second, with when each was accepted.
  absl::Mutex changes_mu;
  std::vector<std::pair<int64_t, absl::Time>> changes;  // version, accepted
  std::thread changer([&] {
    for (absl::Time next = absl::Now(); running.load(); next += absl::Seconds(1)) {
      absl::SleepFor(next - absl::Now());
      const int64_t v = ++version;
      if (PutVersion(**api, v, options.backends).ok()) {
        absl::MutexLock lock(&changes_mu);
        changes.emplace_back(v, absl::Now());
      }
    }
  });
  // Faults: one a minute, in turn.
  std::atomic<size_t> faults_made{0};
  std::thread faults([&] {
    const std::vector<std::vector<std::string>> kinds = {
        {"/fault/drop"},
        {"/fault/stall"},
        {"/fault/garbage"},
        {"/fault/expire"},
        {"/fault/compact", "/fault/drop"},
        {"/fault/status?code=500&count=5&path=endpointslices", "/fault/drop"},
        {"/fault/status?code=429&count=1&retryAfter=2&path=endpointslices", "/fault/drop"}};
    for (absl::Time next = absl::Now() + absl::Minutes(1); running.load();) {
      while (running.load() && absl::Now() < next) absl::SleepFor(absl::Milliseconds(200));
      if (!running.load()) break;
      for (const std::string& fault : kinds[faults_made++ % kinds.size()]) {
        (void)(*api)->Control(fault);
      }
      next += absl::Minutes(1);
    }
  });
  // Scrapes, and samples every 10 s.
  std::ofstream samples(options.out + "/samples.csv");
  samples << "seconds,rss_kib,descriptors,threads\n";
  std::thread scraper([&] {
    absl::Time next_sample = absl::Now();
    while (running.load()) {
      (void)testbed::HttpGet(admin + "/metrics");
      (void)testbed::HttpGet(admin + "/debug/state");
      if (absl::Now() >= next_sample) {
        samples << absl::StrFormat("%.0f,%d,%d,%d\n", absl::ToDoubleSeconds(absl::Now() - start),
                                   StatusField(pid, "VmRSS:"), OpenDescriptors(pid),
                                   StatusField(pid, "Threads:"))
                << std::flush;
        next_sample += absl::Seconds(10);
      }
      absl::SleepFor(absl::Seconds(2));
    }
  });

  // The clients, on two completion queues.
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues;
  std::vector<std::thread> pollers;
  for (int i = 0; i < 2; ++i) queues.push_back(std::make_unique<grpc::CompletionQueue>());
  for (auto& queue : queues) {
    pollers.emplace_back([cq = queue.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) {
        auto* t = static_cast<Stream::Tag*>(tag);
        t->stream->Handle(t->op, ok);
      }
    });
  }
  std::mt19937_64 random(42);
  std::uniform_int_distribution<int> lifetime(5, 60);
  size_t made = 0;
  const auto make = [&](Stream::Kind kind, absl::Time end) {
    return std::make_unique<Stream>(kind, port, queues[made++ % queues.size()].get(), end);
  };
  std::vector<std::unique_ptr<Stream>> checkers, stuck, churn;
  for (int i = 0; i < options.checkers; ++i) checkers.push_back(make(Stream::Kind::kChecker, stop));
  for (int i = 0; i < options.stuck; ++i) stuck.push_back(make(Stream::Kind::kStuck, stop));
  std::deque<std::unique_ptr<Stream>> leaving;
  int64_t churned = 0, churn_empty = 0, churn_short = 0;
  while (absl::Now() < stop) {
    const absl::Time now = absl::Now();
    // Replace the clients whose time is up (a few at a time: a crowd arriving).
    for (auto& client : churn) {
      if (client != nullptr && client->end() <= now) {
        client->Cancel();
        leaving.push_back(std::move(client));
      }
    }
    churn.erase(std::remove(churn.begin(), churn.end(), nullptr), churn.end());
    while (static_cast<int>(churn.size()) < options.clients) {
      churn.push_back(make(Stream::Kind::kChurn, now + absl::Seconds(lifetime(random))));
      ++churned;
    }
    while (!leaving.empty() && leaving.front()->done()) {
      churn_empty += leaving.front()->empty();
      churn_short += leaving.front()->short_lists();
      leaving.pop_front();
    }
    absl::SleepFor(absl::Milliseconds(100));
  }

  running.store(false);
  changer.join();
  faults.join();
  scraper.join();
  // The verdict, from the checkers' records.
  std::vector<std::pair<int64_t, absl::Time>> accepted;
  {
    absl::MutexLock lock(&changes_mu);
    accepted = changes;
  }
  std::vector<double> lags;  // seconds, per (change, checker)
  int64_t missed = 0, empty = 0, short_lists = 0, lists = 0;
  for (const auto& checker : checkers) {
    const std::vector<Record> records = checker->records();
    empty += checker->empty();
    short_lists += checker->short_lists();
    lists += checker->lists();
    size_t r = 0;
    for (const auto& [v, at] : accepted) {
      while (r < records.size() && records[r].version < v) ++r;
      if (r == records.size()) {
        if (stop - at > absl::Seconds(30)) ++missed;  // the last seconds' may not have come yet
        continue;
      }
      lags.push_back(std::max(0.0, absl::ToDoubleSeconds(records[r].at - at)));
    }
  }
  std::sort(lags.begin(), lags.end());
  const auto pct = [&](double p) {
    return lags.empty() ? 0.0
                        : lags[std::min(lags.size() - 1, static_cast<size_t>(p * lags.size()))];
  };
  const int64_t late = std::count_if(lags.begin(), lags.end(), [](double s) { return s > 5.0; });
  for (auto& s : stuck) s->Cancel();
  for (auto& c : checkers) c->Cancel();
  for (auto& c : churn) c->Cancel();
  const std::string summary = absl::StrFormat(
      "soak: %d minutes, %d changes, %d faults, %d churning clients (%d connected in all), "
      "%d checkers, %d never-reading streams\n"
      "checkers: %d lists, empty %d, short %d; churning clients: empty %d, short %d\n"
      "staleness of a change at the checkers (s): p50 %.3f p99 %.3f p99.9 %.3f max %.3f; "
      "over 5 s: %d of %d; never arrived: %d\n",
      options.minutes, accepted.size(), faults_made.load(), options.clients, churned,
      options.checkers, options.stuck, lists, empty, short_lists, churn_empty, churn_short,
      pct(0.5), pct(0.99), pct(0.999), lags.empty() ? 0.0 : lags.back(), late, lags.size(), missed);
  std::fputs(summary.c_str(), stdout);
  std::ofstream(options.out + "/summary.txt") << summary;
  const std::optional<int> status = (*jawlb)->process().Stop(SIGTERM, absl::Seconds(60));
  std::printf("jawlb exited %s\n", testbed::ExitedWith(status, 0) ? "0" : "NOT 0");
  for (auto& queue : queues) queue->Shutdown();
  for (std::thread& poller : pollers) poller.join();
  const bool clean = empty == 0 && short_lists == 0 && churn_empty == 0 && churn_short == 0 &&
                     missed == 0 && testbed::ExitedWith(status, 0);
  return clean ? 0 : 1;
}

}  // namespace
}  // namespace jawlb::bench

int main(int argc, char** argv) {
  jawlb::bench::Options options;
  if (!jawlb::bench::ParseFlags(argc, argv, options)) return 2;
  return jawlb::bench::Run(options);
}
