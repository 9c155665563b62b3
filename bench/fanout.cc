// fanout: the load generator. Runs the test Kubernetes API server and jawlb,
// opens N BalanceLoad streams over C HTTP/2 connections, waits for every
// stream's first list, then for R rounds changes the service through the API
// server (adds a backend, then removes it) and records when each stream gets
// the list that reflects the change. Prints propagation percentiles, streams
// that never got a change, messages and bytes per stream per change, jawlb's
// memory per stream and CPU per change, and what the generator itself cost.
//
// Other scenarios: --stuck_percent (streams that never read after their first
// list), --churn_seconds (clients connecting and vanishing at --churn_rate per
// second, jawlb's RSS sampled), --startup_endpoints (time to the first complete
// list of a large service, and back to steady state after a 410 re-list).
//
// Streams are raw ByteBuffers: a list's size tells the lists apart, so the
// generator parses nothing and stays cheap. With --protocol=xds the streams
// are ADS streams instead, each as a gRPC xDS client's: it subscribes to the
// listener, then to the assignment of the cluster the listener names, and
// ACKs every response (those it parses; an assignment's size tells them
// apart as a list's does).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/impl/codegen/proto_utils.h"

#include "envoy/config/listener/v3/listener.pb.h"
#include "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "testbed/http.h"
#include "testbed/jawlb_process.h"
#include "testbed/kube_api.h"
#include "testbed/subprocess.h"

namespace jawlb::bench {
namespace {

using testbed::EndpointSliceJson;

struct Options {
  int streams = 10000;
  int connections = 100;
  int backends = 5;
  int rounds = 20;  // each round is two changes: add a backend, remove it
  double stuck_percent = 0;
  int churn_seconds = 0;
  int churn_rate = 1000;
  int startup_endpoints = 0;
  int pause_ms = 0;  // between changes
  int services = 0;  // > 0: multi mode with this many services (RunMulti)
  int hold_ms = 0;   // RunMulti: wait this long with every stream open (to look at jawlb)
  bool xds = false;  // --protocol=xds: ADS streams instead of BalanceLoad
};

bool ParseFlags(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    const size_t eq = arg.find('=');
    if (!absl::StartsWith(arg, "--") || eq == absl::string_view::npos) return false;
    const absl::string_view name = arg.substr(2, eq - 2);
    const absl::string_view value = arg.substr(eq + 1);
    bool ok = false;
    if (name == "streams") ok = absl::SimpleAtoi(value, &options.streams);
    if (name == "connections") ok = absl::SimpleAtoi(value, &options.connections);
    if (name == "backends") ok = absl::SimpleAtoi(value, &options.backends);
    if (name == "rounds") ok = absl::SimpleAtoi(value, &options.rounds);
    if (name == "stuck_percent") ok = absl::SimpleAtod(value, &options.stuck_percent);
    if (name == "churn_seconds") ok = absl::SimpleAtoi(value, &options.churn_seconds);
    if (name == "churn_rate") ok = absl::SimpleAtoi(value, &options.churn_rate);
    if (name == "pause_ms") ok = absl::SimpleAtoi(value, &options.pause_ms);
    if (name == "transport") {  // what serves jawlb's gRPC port (JAWLB_TRANSPORT)
      ok = value == "h2" || value == "grpc";
      if (ok) setenv("JAWLB_TEST_TRANSPORT", std::string(value).c_str(), 1);
    }
    if (name == "protocol") {
      ok = value == "grpclb" || value == "xds";
      options.xds = value == "xds";
    }
    if (name == "startup_endpoints") ok = absl::SimpleAtoi(value, &options.startup_endpoints);
    if (name == "services") ok = absl::SimpleAtoi(value, &options.services);
    if (name == "hold_ms") ok = absl::SimpleAtoi(value, &options.hold_ms);
    if (!ok) return false;
  }
  return options.streams > 0 && options.connections > 0 && options.backends > 0;
}

// --- /proc readings ---------------------------------------------------------

int64_t RssBytes(int pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    int64_t kib = 0;
    if (absl::StartsWith(line, "VmRSS:") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::StripSuffix(line.substr(6), "kB")),
                         &kib)) {
      return kib * 1024;
    }
  }
  return 0;
}

// User + system CPU of `pid`.
absl::Duration CpuOf(int pid) {
  std::ifstream file(absl::StrCat("/proc/", pid, "/stat"));
  std::stringstream text;
  text << file.rdbuf();
  const std::string stat = text.str();
  const std::vector<std::string> fields =
      absl::StrSplit(stat.substr(stat.rfind(')') + 2), ' ', absl::SkipEmpty());
  int64_t user = 0;
  int64_t system = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &user) ||
      !absl::SimpleAtoi(fields[12], &system)) {
    return absl::ZeroDuration();
  }
  return absl::Seconds(static_cast<double>(user + system) /
                       static_cast<double>(sysconf(_SC_CLK_TCK)));
}

absl::Duration SelfCpu() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) + absl::DurationFromTimeval(usage.ru_stime);
}

// --- streams ----------------------------------------------------------------

using Stub = grpc::GenericStub;
constexpr char kMethod[] = "/grpc.lb.v1.LoadBalancer/BalanceLoad";
constexpr char kAdsMethod[] =
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
constexpr char kListenerType[] = "type.googleapis.com/envoy.config.listener.v3.Listener";
constexpr char kEndpointsType[] =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
constexpr char kName[] = "echo.default.svc.cluster.local:50051";

// A DiscoveryRequest (a subscription, or with `nonce` an ACK) as bytes.
grpc::ByteBuffer AdsRequest(const std::string& type, const std::string& name,
                            const std::string& version = "", const std::string& nonce = "",
                            bool node = false) {
  envoy::service::discovery::v3::DiscoveryRequest request;
  if (node) request.mutable_node()->set_id("fanout");
  request.set_type_url(type);
  request.add_resource_names(name);
  request.set_version_info(version);
  request.set_response_nonce(nonce);
  grpc::ByteBuffer buffer;
  bool own = false;
  (void)grpc::SerializationTraits<envoy::service::discovery::v3::DiscoveryRequest>::Serialize(
      request, &buffer, &own);
  return buffer;
}

// Counts streams alive, so the end can wait for all of them.
class Tally {
 public:
  void Add() {
    absl::MutexLock lock(&mu_);
    ++alive_;
  }
  void Done() {
    absl::MutexLock lock(&mu_);
    --alive_;
  }
  bool WaitZero(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto zero = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return alive_ == 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&zero), timeout);
  }
  int alive() {
    absl::MutexLock lock(&mu_);
    return alive_;
  }

 private:
  absl::Mutex mu_;
  int alive_ ABSL_GUARDED_BY(mu_) = 0;
};

// One BalanceLoad stream on the async API. The first message is the initial
// response; every later one is a ServerList, told apart by its size. Its
// completions arrive on a Poller's thread, which blocks in the completion
// queue and so reads a connection the moment bytes arrive (gRPC's callback
// client, by contrast, backs off its polling when idle: it measured the
// generator, not jawlb, adding ~100 ms to the first change after a quiet
// second).
class Stream {
 public:
  Stream(grpc::GenericStub& stub, grpc::CompletionQueue* cq, const grpc::ByteBuffer& initial,
         bool stuck, Tally& tally, bool cancel_after_first_list = false, bool xds = false)
      : stuck_(stuck), cancel_after_first_list_(cancel_after_first_list), xds_(xds), tally_(tally) {
    tally_.Add();
    call_ = stub.PrepareCall(&context_, xds ? kAdsMethod : kMethod, cq);
    initial_ = xds ? AdsRequest(kListenerType, kName, "", "", true) : initial;
    call_->StartCall(&start_);
  }

  // A completion of `op` (on the poller's thread).
  void Handle(int op, bool ok) {
    switch (op) {
      case kStart:
        if (!ok) return Finish();
        writing_ = true;
        call_->Write(initial_, &write_);
        call_->Read(&in_, &read_);
        return;
      case kWrite:  // one write at a time: the next queued one (xDS: ACKs)
        writing_ = false;
        if (ok && !queued_.empty()) {
          writing_ = true;
          call_->Write(queued_.front(), &write_);
          queued_.pop_front();
        }
        return;
      case kRead:
        if (!ok) return Finish();
        OnMessage();
        return;
      default:  // kFinish
        done_.store(true);
        tally_.Done();
    }
  }

  // Ends the stream (main thread).
  void Cancel() {
    context_.TryCancel();
    // A stuck stream has no read outstanding to notice: finish it here.
    if (stuck_ && list_length() > 0) Finish();
  }
  bool stuck() const { return stuck_; }
  bool done() const { return done_.load(); }
  int64_t messages() const { return messages_.load(std::memory_order_relaxed); }
  int64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  int64_t list_length() const { return list_length_.load(std::memory_order_acquire); }
  int64_t changed_ns() const { return changed_ns_.load(std::memory_order_relaxed); }

  struct Tag {
    Stream* stream;
    int op;
  };
  static constexpr int kStart = 0, kWrite = 1, kRead = 2, kFinish = 3;

 private:
  void Send(grpc::ByteBuffer message) {
    if (writing_) {
      queued_.push_back(std::move(message));
      return;
    }
    writing_ = true;
    outgoing_ = std::move(message);
    call_->Write(outgoing_, &write_);
  }

  // An ADS response: ACKed; a listener's cluster subscribed to; an
  // assignment's size taken as a list's.
  void OnAdsMessage(int64_t now) {
    envoy::service::discovery::v3::DiscoveryResponse response;
    const bool parsed =
        grpc::SerializationTraits<envoy::service::discovery::v3::DiscoveryResponse>::Deserialize(
            &in_, &response)
            .ok();
    messages_.fetch_add(1, std::memory_order_relaxed);
    if (!parsed || response.resources_size() == 0) {
      call_->Read(&in_, &read_);
      return;
    }
    bytes_.fetch_add(static_cast<int64_t>(response.ByteSizeLong()), std::memory_order_relaxed);
    const std::string& type = response.type_url();
    if (type == kListenerType) {
      Send(AdsRequest(type, kName, response.version_info(), response.nonce()));
      envoy::config::listener::v3::Listener listener;
      envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager hcm;
      if (response.resources(0).UnpackTo(&listener) &&
          listener.api_listener().api_listener().UnpackTo(&hcm)) {
        cluster_ = hcm.rds().route_config_name();
        Send(AdsRequest(kEndpointsType, cluster_));
      }
    } else if (type == kEndpointsType) {
      Send(AdsRequest(type, cluster_, response.version_info(), response.nonce()));
      const auto length = static_cast<int64_t>(response.resources(0).value().size());
      if (length != list_length_.load(std::memory_order_relaxed)) {
        changed_ns_.store(now, std::memory_order_relaxed);
      }
      list_length_.store(length, std::memory_order_release);
      if (cancel_after_first_list_) context_.TryCancel();
      if (stuck_) return;
    }
    call_->Read(&in_, &read_);
  }

  void OnMessage() {
    const int64_t now = absl::GetCurrentTimeNanos();
    if (xds_) return OnAdsMessage(now);
    const int64_t length = static_cast<int64_t>(in_.Length());
    in_.Clear();
    const int64_t messages = messages_.fetch_add(1, std::memory_order_relaxed) + 1;
    bytes_.fetch_add(length, std::memory_order_relaxed);
    if (messages >= 2) {  // a ServerList
      if (length != list_length_.load(std::memory_order_relaxed)) {
        changed_ns_.store(now, std::memory_order_relaxed);
      }
      list_length_.store(length, std::memory_order_release);
      if (cancel_after_first_list_) context_.TryCancel();
      if (stuck_) return;  // never reads again: jawlb must not queue for it
    }
    call_->Read(&in_, &read_);
  }
  void Finish() { call_->Finish(&status_, &finish_); }

  const bool stuck_;
  const bool cancel_after_first_list_;
  const bool xds_;
  Tally& tally_;
  // The poller's thread's alone (a stream's completions come on one queue).
  bool writing_ = false;
  grpc::ByteBuffer outgoing_;
  std::deque<grpc::ByteBuffer> queued_;
  std::string cluster_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  grpc::ByteBuffer initial_;
  grpc::ByteBuffer in_;
  grpc::Status status_;
  Tag start_{this, kStart}, write_{this, kWrite}, read_{this, kRead}, finish_{this, kFinish};
  std::atomic<int64_t> messages_{0};
  std::atomic<int64_t> bytes_{0};
  std::atomic<int64_t> list_length_{-1};
  std::atomic<int64_t> changed_ns_{0};
  std::atomic<bool> done_{false};
};

// Completion queues, each drained by its own thread.
class Pollers {
 public:
  explicit Pollers(int count) {
    for (int i = 0; i < count; ++i) queues_.push_back(std::make_unique<grpc::CompletionQueue>());
    for (auto& queue : queues_) {
      threads_.emplace_back([cq = queue.get()] {
        void* tag = nullptr;
        bool ok = false;
        while (cq->Next(&tag, &ok)) {
          auto* t = static_cast<Stream::Tag*>(tag);
          t->stream->Handle(t->op, ok);
        }
      });
    }
  }
  ~Pollers() {
    for (auto& queue : queues_) queue->Shutdown();
    for (std::thread& thread : threads_) thread.join();
  }
  grpc::CompletionQueue* queue(size_t i) { return queues_[i % queues_.size()].get(); }

 private:
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::vector<std::thread> threads_;
};

grpc::ByteBuffer InitialRequest(const std::string& name = "echo.default.svc.cluster.local:50051") {
  // LoadBalanceRequest{initial_request{name: ...}} (names under 128 bytes).
  std::string inner = std::string("\x0a", 1) + static_cast<char>(name.size()) + name;
  std::string bytes = std::string("\x0a", 1) + static_cast<char>(inner.size()) + inner;
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::shared_ptr<grpc::Channel> NewConnection(int port, int id) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // its own TCP connection
  args.SetInt("jawlb.bench.connection", id);
  return grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials(), args);
}

// `count` connections to jawlb at `port`, a generic stub on each.
struct Connections {
  Connections(int port, int count) {
    for (int c = 0; c < count; ++c) {
      channels.push_back(NewConnection(port, c));
      stubs.push_back(std::make_unique<Stub>(channels.back()));
    }
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<Stub>> stubs;
};

// --- the service ------------------------------------------------------------

std::string Ip(int i) {
  return absl::StrCat("10.", 1 + i / 65536, ".", (i / 256) % 256, ".", i % 256);
}

// The service's slices: `backends` endpoints, 100 per slice (the controller's
// default), plus the marker endpoint in the first slice when `marker`.
absl::Status PutService(testbed::KubeApi& api, int backends, bool marker, bool only_first = false) {
  const int slices = (backends + 99) / 100;
  for (int s = 0; s < slices; ++s) {
    std::vector<std::pair<std::string, std::string>> endpoints;
    for (int i = s * 100; i < std::min(backends, (s + 1) * 100); ++i) {
      endpoints.emplace_back(Ip(i), "ready");
    }
    if (s == 0 && marker) endpoints.emplace_back("10.250.0.1", "ready");
    if (absl::Status status =
            api.Put("endpointslices",
                    EndpointSliceJson(absl::StrCat("echo-", s), "echo", 50051, endpoints));
        !status.ok()) {
      return status;
    }
    if (only_first) break;
  }
  return absl::OkStatus();
}

bool WaitUntil(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

int HttpStatus(const std::string& url) {
  absl::StatusOr<std::pair<int, std::string>> got = testbed::HttpGet(url);
  return got.ok() ? got->first : 0;
}

// One number from jawlb's /metrics (the first sample line starting with `prefix`).
double Metric(int admin_port, const std::string& prefix) {
  absl::StatusOr<std::pair<int, std::string>> got =
      testbed::HttpGet(absl::StrCat("http://127.0.0.1:", admin_port, "/metrics"));
  if (!got.ok()) return -1;
  for (absl::string_view line : absl::StrSplit(got->second, '\n')) {
    if (!absl::StartsWith(line, prefix + " ") && !absl::StartsWith(line, prefix + "{")) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) return value;
  }
  return -1;
}

double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const size_t index = std::min(
      values.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(values.size())));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(index),
                   values.end());
  return values[index];
}

struct Setup {
  std::string dir = testbed::MakeTempDir("fanout.");
  std::unique_ptr<testbed::KubeApi> api;
  std::unique_ptr<testbed::JawlbProcess> jawlb;
};

absl::Status StartApi(Setup& setup) {
  auto api = testbed::KubeApi::Start(KUBEAPI_BINARY, setup.dir, KUBECTL_BINARY, "10s");
  if (!api.ok()) return api.status();
  setup.api = *std::move(api);
  return absl::OkStatus();
}

// Every simulated client comes from 127.0.0.1, many to a connection: the
// limits meant for one real client address (README, Limits) are lifted.
constexpr const char* kAllClientsFromOneAddress[] = {
    "JAWLB_MAXSTREAMS=1000000", "JAWLB_MAXSTREAMSPERPEER=1000000",
    "JAWLB_MAXSTREAMSPERCONNECTION=1000000", "JAWLB_MAXCONNECTIONSPERPEER=1000000"};

// The jawlb binary to run: FANOUT_JAWLB when set (to compare two builds in
// one run), else the one built with this generator.
const char* JawlbBinary() {
  const char* other = std::getenv("FANOUT_JAWLB");
  return other != nullptr && *other != '\0' ? other : JAWLB_BINARY;
}

absl::Status StartJawlb(Setup& setup) {
  auto jawlb = testbed::JawlbProcess::Start(
      JawlbBinary(),
      {"JAWLB_SERVICE=echo", "KUBECONFIG=" + setup.api->kubeconfig(), "JAWLB_LOGLEVEL=info",
       "JAWLB_CLIENTSTATSINTERVAL=0s", "JAWLB_MAXCONNECTIONAGE=0s", kAllClientsFromOneAddress[0],
       kAllClientsFromOneAddress[1], kAllClientsFromOneAddress[2], kAllClientsFromOneAddress[3]},
      setup.dir + "/jawlb.log");
  if (!jawlb.ok()) return jawlb.status();
  setup.jawlb = *std::move(jawlb);
  const std::string readyz =
      absl::StrCat("http://127.0.0.1:", setup.jawlb->admin_port(), "/readyz");
  if (!WaitUntil([&] { return HttpStatus(readyz) == 200; }, absl::Seconds(60))) {
    return absl::DeadlineExceededError("jawlb never became ready");
  }
  return absl::OkStatus();
}

// --- scenarios --------------------------------------------------------------

int RunFanout(const Options& options) {
  Setup setup;
  if (absl::Status s = StartApi(setup); !s.ok())
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  if (absl::Status s = PutService(*setup.api, options.backends, false); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  if (absl::Status s = StartJawlb(setup); !s.ok())
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  const int pid = setup.jawlb->process().pid();
  absl::SleepFor(absl::Milliseconds(500));  // let start-up allocations settle
  const int64_t rss_before = RssBytes(pid);

  const grpc::ByteBuffer initial = InitialRequest();
  Connections connections(setup.jawlb->port(), options.connections);
  std::vector<std::unique_ptr<Stub>>& stubs = connections.stubs;
  Tally tally;
  // Many queues, few tags each: Debian's gRPC checks every completion against
  // a linear list of its queue's outstanding tags (a debug build).
  Pollers pollers(16);
  std::vector<std::unique_ptr<Stream>> streams;
  const int stuck_every =
      options.stuck_percent > 0 ? static_cast<int>(100.0 / options.stuck_percent) : 0;
  const absl::Time connect_start = absl::Now();
  for (int i = 0; i < options.streams; ++i) {
    const bool stuck = stuck_every > 0 && i % stuck_every == stuck_every - 1;
    streams.push_back(std::make_unique<Stream>(*stubs[i % options.connections], pollers.queue(i),
                                               initial, stuck, tally, false, options.xds));
  }
  auto all_listed = [&] {
    return std::all_of(streams.begin(), streams.end(),
                       [](const auto& s) { return s->list_length() > 0; });
  };
  if (!WaitUntil(all_listed, absl::Seconds(120))) {
    std::fprintf(stderr, "not every stream got its first list\n");
    return 1;
  }
  const absl::Duration connect_time = absl::Now() - connect_start;
  absl::SleepFor(absl::Seconds(1));
  const int64_t rss_connected = RssBytes(pid);
  const int64_t base_length = streams[0]->list_length();
  std::vector<int64_t> messages_before(streams.size());
  std::vector<int64_t> bytes_before(streams.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    messages_before[i] = streams[i]->messages();
    bytes_before[i] = streams[i]->bytes();
  }

  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<size_t>(options.streams) * options.rounds * 2);
  int64_t missed = 0;
  int64_t live = 0;
  for (const auto& s : streams) live += s->stuck() ? 0 : 1;
  int64_t marker_length = -1;
  std::vector<std::string> per_change;  // "first-last" ms
  absl::Duration put_time;
  const absl::Duration jawlb_cpu_start = CpuOf(pid);
  const absl::Duration self_cpu_start = SelfCpu();
  const int changes = options.rounds * 2;
  for (int change = 0; change < changes; ++change) {
    const bool add = change % 2 == 0;
    absl::SleepFor(absl::Milliseconds(options.pause_ms));
    const int64_t t0 = absl::GetCurrentTimeNanos();
    if (absl::Status s = PutService(*setup.api, options.backends, add, /*only_first=*/true);
        !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    put_time += absl::Nanoseconds(absl::GetCurrentTimeNanos() - t0);
    // The first stream to get the change tells the new list's size.
    if (!WaitUntil(
            [&] {
              for (const auto& s : streams) {
                if (!s->stuck() && s->list_length() != (add ? base_length : marker_length))
                  return true;
              }
              return false;
            },
            absl::Seconds(30))) {
      std::fprintf(stderr, "change %d reached no stream\n", change);
      return 1;
    }
    int64_t expected = base_length;
    if (add) {
      for (const auto& s : streams) {
        if (!s->stuck() && s->list_length() != base_length) expected = s->list_length();
      }
      marker_length = expected;
    }
    WaitUntil(
        [&] {
          return std::all_of(streams.begin(), streams.end(), [&](const auto& s) {
            return s->stuck() || s->list_length() == expected;
          });
        },
        absl::Seconds(30));
    double first = 1e18;
    double last = 0;
    for (const auto& s : streams) {
      if (s->stuck()) continue;
      if (s->list_length() != expected) {
        ++missed;
        continue;
      }
      const double ms = static_cast<double>(s->changed_ns() - t0) / 1e6;
      first = std::min(first, ms);
      last = std::max(last, ms);
      latencies_ms.push_back(ms);
    }
    per_change.push_back(absl::StrFormat("%.1f-%.1f", first, last));
  }
  const absl::Duration jawlb_cpu = CpuOf(pid) - jawlb_cpu_start;
  const absl::Duration self_cpu = SelfCpu() - self_cpu_start;
  const int64_t rss_after = RssBytes(pid);

  int64_t messages = 0;
  int64_t bytes = 0;
  for (size_t i = 0; i < streams.size(); ++i) {
    if (streams[i]->stuck()) continue;
    messages += streams[i]->messages() - messages_before[i];
    bytes += streams[i]->bytes() - bytes_before[i];
  }
  std::vector<double> sorted = latencies_ms;
  const double p50 = Percentile(sorted, 50);
  const double p90 = Percentile(sorted, 90);
  const double p99 = Percentile(sorted, 99);
  const double max = sorted.empty() ? 0 : *std::max_element(sorted.begin(), sorted.end());
  const double stream_changes = static_cast<double>(live) * changes;

  std::printf(
      "fanout: %d %s streams over %d connections, %d backends, %d changes, %d stuck streams\n",
      options.streams, options.xds ? "xDS" : "grpclb", options.connections, options.backends,
      changes, static_cast<int>(options.streams - live));
  std::printf("  connect: every stream had its first list after %s\n",
              absl::FormatDuration(connect_time).c_str());
  std::printf(
      "  propagation (API write -> list at the client): p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max "
      "%.2f ms\n",
      p50, p90, p99, max);
  std::printf("    first-last client per change (ms): %s\n",
              absl::StrJoin(per_change, " ").c_str());
  std::printf(
      "    of which the API write itself (PUT to the test API server): %.2f ms on average\n",
      absl::ToDoubleMilliseconds(put_time) / changes);
  const int admin = setup.jawlb->admin_port();
  const std::string histogram =
      options.xds ? "jawlb_xds_propagation_seconds" : "jawlb_list_propagation_seconds";
  const double view_ms =
      1000 * Metric(admin, histogram + "_sum") / std::max(1.0, Metric(admin, histogram + "_count"));
  std::printf(
      "    jawlb's own view (watch bytes in -> write done, from its /metrics): mean %.2f ms\n",
      view_ms);
  std::printf("  streams that never got a change: %lld of %lld stream-changes\n",
              static_cast<long long>(missed), static_cast<long long>(stream_changes));
  std::printf("  messages per stream per change: %.3f; bytes per stream per change: %.1f\n",
              static_cast<double>(messages) / stream_changes,
              static_cast<double>(bytes) / stream_changes);
  std::printf(
      "  jawlb RSS: %.1f MiB empty, %.1f MiB with the streams, %.1f MiB after the changes: %.2f "
      "KiB per stream\n",
      static_cast<double>(rss_before) / (1 << 20), static_cast<double>(rss_connected) / (1 << 20),
      static_cast<double>(rss_after) / (1 << 20),
      static_cast<double>(rss_connected - rss_before) / 1024.0 / options.streams);
  std::printf("  jawlb CPU per change: %.2f ms\n", absl::ToDoubleMilliseconds(jawlb_cpu) / changes);
  std::printf("  the generator's own CPU per change: %.2f ms (it shares the machine)\n",
              absl::ToDoubleMilliseconds(self_cpu) / changes);
  std::printf(
      "RESULT protocol=%s streams=%d connections=%d backends=%d stuck=%d p50_ms=%.2f p90_ms=%.2f "
      "p99_ms=%.2f "
      "max_ms=%.2f missed=%lld msgs_per_change=%.3f kib_per_stream=%.2f cpu_ms_per_change=%.2f "
      "generator_cpu_ms_per_change=%.2f put_ms=%.2f rss_after_mib=%.1f jawlb_view_mean_ms=%.2f\n",
      options.xds ? "xds" : "grpclb", options.streams, options.connections, options.backends,
      static_cast<int>(options.streams - live), p50, p90, p99, max, static_cast<long long>(missed),
      static_cast<double>(messages) / stream_changes,
      static_cast<double>(rss_connected - rss_before) / 1024.0 / options.streams,
      absl::ToDoubleMilliseconds(jawlb_cpu) / changes,
      absl::ToDoubleMilliseconds(self_cpu) / changes,
      absl::ToDoubleMilliseconds(put_time) / changes, static_cast<double>(rss_after) / (1 << 20),
      view_ms);
  for (const auto& s : streams) s->Cancel();
  tally.WaitZero(absl::Seconds(60));
  return missed == 0 ? 0 : 2;
}

// Clients connecting and vanishing: each opens its own connection, takes its
// first list and goes away; jawlb's RSS is sampled as it runs.
int RunChurn(const Options& options) {
  Setup setup;
  if (absl::Status s = StartApi(setup); !s.ok())
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  if (absl::Status s = PutService(*setup.api, options.backends, false); !s.ok()) return 1;
  if (absl::Status s = StartJawlb(setup); !s.ok())
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  const int pid = setup.jawlb->process().pid();
  const grpc::ByteBuffer initial = InitialRequest();
  Tally tally;
  Pollers pollers(1);
  struct Client {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<Stub> stub;
    std::unique_ptr<Stream> stream;
  };
  std::vector<Client> clients;
  const absl::Time start = absl::Now();
  const absl::Duration tick = absl::Milliseconds(10);
  int64_t opened = 0;
  absl::Time next_sample = start;
  std::printf("churn: %d clients per second for %d s, each on its own connection\n",
              options.churn_rate, options.churn_seconds);
  std::printf("  %8s %10s %12s %10s\n", "seconds", "opened", "jawlb RSS", "clients");
  for (absl::Time now = start; now - start < absl::Seconds(options.churn_seconds);
       now = absl::Now()) {
    const int64_t due =
        static_cast<int64_t>(absl::ToDoubleSeconds(now - start) * options.churn_rate);
    while (opened < due && tally.alive() < 2000) {
      Client client;
      client.channel = NewConnection(setup.jawlb->port(), static_cast<int>(opened));
      client.stub = std::make_unique<Stub>(client.channel);
      client.stream = std::make_unique<Stream>(*client.stub, pollers.queue(0), initial, false,
                                               tally, /*cancel_after_first_list=*/true);
      clients.push_back(std::move(client));
      ++opened;
    }
    // Forget the clients whose stream is over: their connections close.
    clients.erase(std::remove_if(clients.begin(), clients.end(),
                                 [](const Client& c) { return c.stream->done(); }),
                  clients.end());
    if (now >= next_sample) {
      std::printf("  %8.0f %10lld %9.1f MiB %10d\n", absl::ToDoubleSeconds(now - start),
                  static_cast<long long>(opened), static_cast<double>(RssBytes(pid)) / (1 << 20),
                  static_cast<int>(Metric(setup.jawlb->admin_port(), "jawlb_clients")));
      std::fflush(stdout);
      next_sample += absl::Seconds(10);
    }
    absl::SleepFor(tick);
  }
  tally.WaitZero(absl::Seconds(60));
  clients.clear();
  absl::SleepFor(absl::Seconds(2));
  std::printf("  end: %lld clients, jawlb RSS %.1f MiB, clients still connected %d\n",
              static_cast<long long>(opened), static_cast<double>(RssBytes(pid)) / (1 << 20),
              static_cast<int>(Metric(setup.jawlb->admin_port(), "jawlb_clients")));
  return 0;
}

// A large service: time to the first complete list, and back to steady state
// after the API server expires the watch (410, re-list).
int RunStartup(const Options& options) {
  Setup setup;
  if (absl::Status s = StartApi(setup); !s.ok())
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  if (absl::Status s = PutService(*setup.api, options.startup_endpoints, false); !s.ok()) return 1;
  const absl::Time start = absl::Now();
  if (absl::Status s = StartJawlb(setup); !s.ok())
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  const absl::Duration first_list = absl::Now() - start;
  const int admin = setup.jawlb->admin_port();
  const double sent = Metric(admin, "jawlb_backends_sent");
  const absl::Time expire = absl::Now();
  if (!setup.api->Control("/fault/expire").ok()) return 1;
  if (!WaitUntil([&] { return Metric(admin, "jawlb_kubernetes_lists_total") >= 2; },
                 absl::Seconds(60))) {
    std::fprintf(stderr, "no re-list\n");
    return 1;
  }
  const absl::Duration relist = absl::Now() - expire;
  std::printf("startup: %d endpoints in %d slices\n", options.startup_endpoints,
              (options.startup_endpoints + 99) / 100);
  std::printf("  start -> ready (first complete list): %s; backends sent: %.0f\n",
              absl::FormatDuration(first_list).c_str(), sent);
  std::printf(
      "  410 Expired -> re-listed: %s; backends sent after: %.0f; list updates: %.0f (1: the "
      "re-list changed nothing)\n",
      absl::FormatDuration(relist).c_str(), Metric(admin, "jawlb_backends_sent"),
      Metric(admin, "jawlb_list_updates_total"));
  std::printf("RESULT startup_endpoints=%d first_list_ms=%.1f relist_ms=%.1f\n",
              options.startup_endpoints, absl::ToDoubleMilliseconds(first_list),
              absl::ToDoubleMilliseconds(relist));
  return 0;
}

}  // namespace
// Multi mode: `services` services of `backends` backends each; the streams'
// names are spread over them by a Zipf law (a few services have most clients);
// each change adds a backend to a random service and removes it again. Memory
// per service: one stream per service first, then the rest.
int RunMulti(const Options& options) {
  Setup setup;
  if (absl::Status s = StartApi(setup); !s.ok())
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  auto put = [&](int service, bool extra) {
    std::vector<std::pair<std::string, std::string>> endpoints;
    for (int i = 0; i < options.backends + (extra ? 1 : 0); ++i) {
      endpoints.emplace_back(Ip(service * 16 + i), "ready");
    }
    const std::string name = absl::StrCat("svc-", service);
    return setup.api->Put("endpointslices", EndpointSliceJson(name + "-0", name, 50051, endpoints));
  };
  for (int k = 0; k < options.services; ++k) {
    if (absl::Status s = put(k, false); !s.ok())
      return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  }
  const absl::Time jawlb_start = absl::Now();
  auto jawlb = testbed::JawlbProcess::Start(
      JawlbBinary(),
      {"JAWLB_MODE=multi", "KUBECONFIG=" + setup.api->kubeconfig(), "JAWLB_LOGLEVEL=info",
       "JAWLB_CLIENTSTATSINTERVAL=0s", "JAWLB_MAXCONNECTIONAGE=0s", kAllClientsFromOneAddress[0],
       kAllClientsFromOneAddress[1], kAllClientsFromOneAddress[2], kAllClientsFromOneAddress[3],
       "JAWLB_MAXSERVICESPERPEER=100000"},
      setup.dir + "/jawlb.log");
  if (!jawlb.ok()) return std::fprintf(stderr, "%s\n", jawlb.status().ToString().c_str()), 1;
  setup.jawlb = *std::move(jawlb);
  const std::string readyz =
      absl::StrCat("http://127.0.0.1:", setup.jawlb->admin_port(), "/readyz");
  if (!WaitUntil([&] { return HttpStatus(readyz) == 200; }, absl::Seconds(60))) {
    return std::fprintf(stderr, "jawlb never became ready\n"), 1;
  }
  const int pid = setup.jawlb->process().pid();
  absl::SleepFor(absl::Milliseconds(500));
  const int64_t rss_empty = RssBytes(pid);

  // Which service each stream asks for: Zipf(1) over the services, but every
  // service at least once (the first `services` streams).
  std::vector<double> cumulative;
  double total = 0;
  for (int k = 0; k < options.services; ++k) cumulative.push_back(total += 1.0 / (k + 1));
  std::vector<int> service_of(static_cast<size_t>(options.streams));
  uint64_t seed = 12345;
  for (int i = 0; i < options.streams; ++i) {
    if (i < options.services) {
      service_of[i] = i;
      continue;
    }
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = static_cast<double>(seed >> 11) / static_cast<double>(1ULL << 53) * total;
    service_of[i] = static_cast<int>(std::lower_bound(cumulative.begin(), cumulative.end(), u) -
                                     cumulative.begin());
  }

  Connections connections(setup.jawlb->port(), options.connections);
  std::vector<std::unique_ptr<Stub>>& stubs = connections.stubs;
  Tally tally;
  Pollers pollers(16);
  std::vector<std::unique_ptr<Stream>> streams;
  std::vector<grpc::ByteBuffer> initials;
  for (int k = 0; k < options.services; ++k) {
    initials.push_back(InitialRequest(absl::StrCat("svc-", k, ":50051")));
  }
  auto open = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      streams.push_back(std::make_unique<Stream>(*stubs[i % options.connections], pollers.queue(i),
                                                 initials[service_of[i]], false, tally));
    }
    return WaitUntil(
        [&] {
          return std::all_of(streams.begin(), streams.end(),
                             [](const auto& st) { return st->list_length() > 0; });
        },
        absl::Seconds(180));
  };
  // Services start in two halves: the first pays the one-time costs (code paged
  // in, allocator arenas grown, the API connection), the second only what each
  // further service adds.
  const int first = std::min(options.services, options.streams);
  const int half = first / 2;
  if (!open(0, half)) return std::fprintf(stderr, "a service's first stream got no list\n"), 1;
  absl::SleepFor(absl::Seconds(1));
  const int64_t rss_half = RssBytes(pid);
  if (!open(half, first)) return std::fprintf(stderr, "a service's first stream got no list\n"), 1;
  absl::SleepFor(absl::Seconds(1));
  const int64_t rss_services = RssBytes(pid);
  if (options.hold_ms > 0) {
    std::printf("holding %d ms with one stream per service (jawlb pid %d)\n", options.hold_ms, pid);
    std::fflush(stdout);
    absl::SleepFor(absl::Milliseconds(options.hold_ms));
  }
  if (!open(first, options.streams))
    return std::fprintf(stderr, "not every stream got a list\n"), 1;
  absl::SleepFor(absl::Seconds(1));
  const int64_t rss_streams = RssBytes(pid);

  std::vector<double> latencies_ms;
  int64_t missed = 0;
  const int changes = options.rounds * 2;
  std::vector<int64_t> length_of(static_cast<size_t>(options.services), -1);
  for (size_t i = 0; i < streams.size(); ++i) length_of[service_of[i]] = streams[i]->list_length();
  for (int change = 0; change < changes; ++change) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    // Changes go to services by the same law as clients (busy services change
    // as often as the rest, per client: pick a random stream's service).
    const int k = service_of[(seed >> 33) % streams.size()];
    const bool add = true;
    std::vector<Stream*> mine;
    for (size_t i = 0; i < streams.size(); ++i) {
      if (service_of[i] == k) mine.push_back(streams[i].get());
    }
    for (int step = 0; step < 2; ++step) {
      const int64_t before = mine[0]->list_length();
      const int64_t t0 = absl::GetCurrentTimeNanos();
      if (absl::Status s = put(k, add && step == 0); !s.ok())
        return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
      WaitUntil(
          [&] {
            return std::all_of(mine.begin(), mine.end(),
                               [&](Stream* st) { return st->list_length() != before; });
          },
          absl::Seconds(30));
      for (Stream* st : mine) {
        if (st->list_length() == before) {
          ++missed;
          continue;
        }
        latencies_ms.push_back(static_cast<double>(st->changed_ns() - t0) / 1e6);
      }
    }
  }
  // Every list and watch request since jawlb started: one of each per service
  // watched, then renewals (a watch lasts 5-10 minutes) and re-lists.
  const double seconds = absl::ToDoubleSeconds(absl::Now() - jawlb_start);
  const int api_requests =
      setup.api->Stat("lists").value_or(0) + setup.api->Stat("watches").value_or(0);
  std::vector<double> sorted = latencies_ms;
  const double p50 = Percentile(sorted, 50);
  const double p99 = Percentile(sorted, 99);
  const double per_stream_kib = static_cast<double>(rss_streams - rss_services) / 1024.0 /
                                std::max(1, options.streams - first);
  // A service watch with its first stream, less what a stream costs.
  const double per_service_kib =
      static_cast<double>(rss_services - rss_half) / 1024.0 / std::max(1, first - half) -
      per_stream_kib;
  const double per_service_all_in_kib =
      static_cast<double>(rss_services - rss_empty) / 1024.0 / first - per_stream_kib;
  std::printf(
      "multi: %d services, %d streams (Zipf over the services) over %d connections, %d "
      "changes to random services (%d stream-changes)\n",
      options.services, options.streams, options.connections, changes * 2,
      static_cast<int>(latencies_ms.size() + missed));
  std::printf("  propagation: p50 %.2f ms, p99 %.2f ms; missed %lld\n", p50, p99,
              static_cast<long long>(missed));
  std::printf(
      "  jawlb RSS: %.1f MiB empty, %.1f MiB with one stream per service, %.1f MiB with "
      "all: %.1f KiB per service watch (the second half of the services; %.1f KiB "
      "counting one-time costs), %.2f KiB per stream\n",
      static_cast<double>(rss_empty) / (1 << 20), static_cast<double>(rss_services) / (1 << 20),
      static_cast<double>(rss_streams) / (1 << 20), per_service_kib, per_service_all_in_kib,
      per_stream_kib);
  std::printf("  API requests: %d lists and watches in the %.1f s since jawlb started (%.2f/s)\n",
              api_requests, seconds, api_requests / seconds);
  std::printf(
      "RESULT services=%d streams=%d p50_ms=%.2f p99_ms=%.2f missed=%lld "
      "kib_per_service=%.1f kib_per_service_all_in=%.1f kib_per_stream=%.2f "
      "api_requests_per_s=%.2f\n",
      options.services, options.streams, p50, p99, static_cast<long long>(missed), per_service_kib,
      per_service_all_in_kib, per_stream_kib, api_requests / seconds);
  for (auto& st : streams) st->Cancel();
  tally.WaitZero(absl::Seconds(60));
  return 0;
}

}  // namespace jawlb::bench

int main(int argc, char** argv) {
  // Debian's Abseil checks lock order on every Mutex operation; the generator
  // needs no such checks and should cost the shared machine little.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // A connection per client (--connections=5000) needs more descriptors than
  // the usual soft limit of 1,024: up to the hard limit.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
  jawlb::bench::Options options;
  if (!jawlb::bench::ParseFlags(argc, argv, options)) {
    std::fprintf(
        stderr,
        "usage: fanout [--streams=10000] [--connections=100] [--backends=5] [--rounds=20]\n"
        "              [--stuck_percent=0] [--churn_seconds=0 --churn_rate=1000]\n"
        "              [--startup_endpoints=0] [--services=0 [--hold_ms=0]]\n"
        "              [--protocol=grpclb|xds] [--transport=h2|grpc]\n");
    return 1;
  }
  if (options.startup_endpoints > 0) return jawlb::bench::RunStartup(options);
  if (options.services > 0) return jawlb::bench::RunMulti(options);
  if (options.churn_seconds > 0) return jawlb::bench::RunChurn(options);
  return jawlb::bench::RunFanout(options);
}
