// The BalanceLoad protocol as a client sees it: an in-process gRPC server with
// the real BalanceLoadService and Hub, and raw grpc.lb.v1 clients.
#include "grpclb/balance_load_service.h"

#include <map>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "grpc/lb/v1/load_balancer.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "tests/fakes/fake_source.h"
#include "transport/completion_queues.h"
#include "transport/grpc_calls.h"

namespace jawlb::grpclb {
namespace {

using grpc::lb::v1::LoadBalanceRequest;
using grpc::lb::v1::LoadBalanceResponse;
using ::testing::HasSubstr;

constexpr absl::Duration kDeadline = absl::Seconds(60);

// `count` backends 10.0.x.y:port, distinguishable by `port`.
discovery::BackendSet Backends(int count, uint16_t port) {
  std::vector<discovery::Backend> backends;
  for (int i = 0; i < count; ++i) {
    backends.push_back(
        *discovery::MakeBackend(absl::StrCat("10.0.", i / 250, ".", i % 250 + 1), port));
  }
  return discovery::BackendSet(std::move(backends));
}

LoadBalanceRequest Initial(const std::string& name) {
  LoadBalanceRequest request;
  request.mutable_initial_request()->set_name(name);
  return request;
}

LoadBalanceRequest Stats(int64_t started) {
  LoadBalanceRequest request;
  request.mutable_client_stats()->set_num_calls_started(started);
  request.mutable_client_stats()->set_num_calls_finished(started);
  return request;
}

// A service unit as the App makes one, on a source the test drives. Every
// load report re-plans and re-evaluates shedding (in production at most every
// 5 s and 1 s).
struct TestUnit {
  // `max_servers`: JAWLB_MAXSERVERS (0: every client gets every backend);
  // `max_rps`: JAWLB_MAXRPSPERBACKEND (0: no shedding).
  explicit TestUnit(std::string key, size_t max_servers = 0, double max_rps = 0) {
    auto owned = std::make_unique<discovery::FakeSource>();
    source = owned.get();
    ServiceUnit::Options options;
    options.key = std::move(key);
    options.max_servers = max_servers;
    options.max_rps_per_backend = max_rps;
    options.replan_every = absl::ZeroDuration();
    options.shed_every = absl::ZeroDuration();
    options.shards = 4;
    unit = std::make_shared<ServiceUnit>(options, std::move(owned));
  }
  // A new set from the source, through the unit's Publish.
  void Publish(const discovery::BackendSet& backends) const { source->Deliver(backends); }
  Hub& hub() const { return unit->hub(); }

  std::shared_ptr<ServiceUnit> unit;
  discovery::FakeSource* source;  // the unit's
};

class BalanceLoadServiceTest : public ::testing::Test {
 protected:
  // `max_servers`: the fixture's unit's JAWLB_MAXSERVERS. `resolver`: multi
  // mode (null: every name is the fixture's unit, as in single mode).
  explicit BalanceLoadServiceTest(size_t max_servers = 0, ServiceResolver resolver = nullptr)
      : unit_("svc", max_servers),
        service_(
            resolver != nullptr ? std::move(resolver)
                                : [unit = unit_.unit](absl::string_view, absl::string_view)
                -> absl::StatusOr<std::shared_ptr<ServiceUnit>> { return unit; },
            BalanceLoadService::Options()) {}

  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    queues_.AddTo(builder);
    calls_.Register(kBalanceLoadMethod, service_.Handler());
    calls_.AddTo(builder);
    server_ = builder.BuildAndStart();
    ASSERT_NE(port, 0);
    queues_.Start();
    calls_.Start();
    service_.Start();
    for (const TestUnit* unit : Units()) ASSERT_TRUE(unit->unit->Start(queues_.wake_runner()).ok());
    address_ = absl::StrCat("127.0.0.1:", port);
  }

  void TearDown() override {
    service_.Drain();
    server_->Shutdown(absl::ToChronoTime(absl::Now() + kDeadline));
    calls_.Stop();
    for (const TestUnit* unit : Units()) unit->unit->Stop();
    queues_.Stop();
  }

  // The units to start and stop with the server.
  virtual std::vector<const TestUnit*> Units() const { return {&unit_}; }

  // A new connection (so streams do not share HTTP/2 flow control).
  std::shared_ptr<grpc::Channel> NewChannel() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("jawlb.test.unique", next_channel_++);
    // Fixed HTTP/2 windows (no BDP probing), so a client that stops reading
    // stops accepting data after a bounded amount, as on a congested network.
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    return grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
  }

  struct Stream {
    std::unique_ptr<grpc::lb::v1::LoadBalancer::Stub> stub;
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<LoadBalanceRequest, LoadBalanceResponse>> rw;

    LoadBalanceResponse Read() {
      LoadBalanceResponse response;
      EXPECT_TRUE(rw->Read(&response)) << "the stream ended: " << rw->Finish().error_message();
      return response;
    }
    // The port of a list made by Backends().
    int ReadListPort() {
      const LoadBalanceResponse response = Read();
      EXPECT_TRUE(response.has_server_list());
      if (response.server_list().servers_size() == 0) return -1;
      return response.server_list().servers(0).port();
    }
    grpc::Status FinishAfterEnd() {
      LoadBalanceResponse ignored;
      while (rw->Read(&ignored)) {
      }
      return rw->Finish();
    }
  };

  std::unique_ptr<Stream> Open() {
    auto stream = std::make_unique<Stream>();
    stream->stub = grpc::lb::v1::LoadBalancer::NewStub(NewChannel());
    stream->context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
    stream->rw = stream->stub->BalanceLoad(&stream->context);
    return stream;
  }

  // Opens a stream, sends the initial request and reads the initial response.
  std::unique_ptr<Stream> Connect(const std::string& name = "svc.test:8000") {
    auto stream = Open();
    EXPECT_TRUE(stream->rw->Write(Initial(name)));
    const LoadBalanceResponse first = stream->Read();
    EXPECT_TRUE(first.has_initial_response()) << first.DebugString();
    return stream;
  }

  // Waits until `done` holds, polling; false after the deadline.
  static bool WaitUntil(const std::function<bool()>& done) {
    const absl::Time deadline = absl::Now() + kDeadline;
    while (!done()) {
      if (absl::Now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
  }

  void Publish(const discovery::BackendSet& backends) { unit_.Publish(backends); }

  transport::CompletionQueues queues_{4};
  transport::GrpcCalls calls_{queues_};
  TestUnit unit_;
  BalanceLoadService service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  int next_channel_ = 0;
};

TEST_F(BalanceLoadServiceTest, FirstMessageMustBeTheInitialRequest) {
  auto stream = Open();
  ASSERT_TRUE(stream->rw->Write(Stats(1)));
  const grpc::Status status = stream->FinishAfterEnd();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("must be an initial_request, got client_stats"));

  auto empty = Open();
  ASSERT_TRUE(empty->rw->Write(LoadBalanceRequest()));
  const grpc::Status empty_status = empty->FinishAfterEnd();
  EXPECT_EQ(empty_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(empty_status.error_message(), HasSubstr("got an empty request"));
}

TEST_F(BalanceLoadServiceTest, ClosingBeforeTheInitialRequestIsAnError) {
  auto stream = Open();
  ASSERT_TRUE(stream->rw->WritesDone());
  const grpc::Status status = stream->FinishAfterEnd();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("before its InitialLoadBalanceRequest"));
}

TEST_F(BalanceLoadServiceTest, MalformedMessageIsAnError) {
  grpc::GenericStub stub(NewChannel());
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
  auto call = stub.PrepareCall(&context, "/grpc.lb.v1.LoadBalancer/BalanceLoad", &cq);
  auto step = [&cq](int expected) {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(expected));
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  // Field 1 with wire type 7, which does not exist.
  grpc::Slice garbage(std::string("\x0f\xff\xff", 3));
  call->Write(grpc::ByteBuffer(&garbage, 1), reinterpret_cast<void*>(2));
  step(2);
  grpc::ByteBuffer response;
  call->Read(&response, reinterpret_cast<void*>(3));
  EXPECT_FALSE(step(3));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(4));
  ASSERT_TRUE(step(4));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("malformed LoadBalanceRequest"));
}

TEST_F(BalanceLoadServiceTest, SecondInitialRequestIsAnError) {
  Publish(Backends(2, 1000));
  auto stream = Connect();
  EXPECT_EQ(stream->ReadListPort(), 1000);
  ASSERT_TRUE(stream->rw->Write(Initial("again")));
  const grpc::Status status = stream->FinishAfterEnd();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("initial_request sent twice"));
}

TEST_F(BalanceLoadServiceTest, InitialResponseThenTheListThenEveryChange) {
  Publish(Backends(3, 1000));
  auto stream = Open();
  ASSERT_TRUE(stream->rw->Write(Initial("svc.test:8000")));
  const LoadBalanceResponse initial = stream->Read();
  ASSERT_TRUE(initial.has_initial_response());
  EXPECT_EQ(initial.initial_response().client_stats_report_interval().seconds(), 10);
  const LoadBalanceResponse list = stream->Read();
  ASSERT_TRUE(list.has_server_list());
  ASSERT_EQ(list.server_list().servers_size(), 3);
  EXPECT_EQ(list.server_list().servers(0).ip_address(), std::string("\x0a\x00\x00\x01", 4));
  EXPECT_EQ(list.server_list().servers(0).port(), 1000);
  Publish(Backends(2, 1001));
  EXPECT_EQ(stream->ReadListPort(), 1001);
  Publish(discovery::BackendSet());
  const LoadBalanceResponse none = stream->Read();
  ASSERT_EQ(none.server_list().servers_size(), 1);
  EXPECT_TRUE(none.server_list().servers(0).drop());
}

TEST_F(BalanceLoadServiceTest, NoListBeforeTheSourceHasOne) {
  auto stream = Connect();
  // Anything sent before this publish (an empty list, say) would be read here.
  Publish(Backends(1, 1234));
  EXPECT_EQ(stream->ReadListPort(), 1234);
}

TEST_F(BalanceLoadServiceTest, RecordsTheNameAndLoadReportsAndKeepsServing) {
  Publish(Backends(2, 1000));
  auto stream = Connect("users.prod.svc.cluster.local:443");
  EXPECT_EQ(stream->ReadListPort(), 1000);
  ASSERT_TRUE(stream->rw->Write(Stats(5)));
  ASSERT_TRUE(stream->rw->Write(Stats(-3)));  // nonsense is ignored, not fatal
  ASSERT_TRUE(stream->rw->Write(Stats(7)));
  ASSERT_TRUE(WaitUntil([this] {
    std::vector<ClientInfo> clients = service_.clients().Clients();
    return clients.size() == 1 && clients[0].load.totals().reports == 2 &&
           clients[0].load.totals().rejected_reports == 1;
  }));
  const ClientInfo client = service_.clients().Clients()[0];
  EXPECT_EQ(client.name, "users.prod.svc.cluster.local:443");
  EXPECT_EQ(client.load.totals().calls_started, 12);
  EXPECT_GT(client.rates.started, 0);  // smoothed calls per second
  EXPECT_EQ(service_.metrics().rejected_reports.value(), 1u);
  EXPECT_EQ(service_.metrics().calls_started.value(), 12u);
  EXPECT_EQ(client.list_version, 1u);
  EXPECT_EQ(client.list_size, 2u);
  Publish(Backends(2, 1001));
  EXPECT_EQ(stream->ReadListPort(), 1001);
}

TEST_F(BalanceLoadServiceTest, HalfClosedClientStillGetsLists) {
  Publish(Backends(1, 1000));
  auto stream = Connect();
  EXPECT_EQ(stream->ReadListPort(), 1000);
  ASSERT_TRUE(stream->rw->WritesDone());
  Publish(Backends(1, 1001));
  EXPECT_EQ(stream->ReadListPort(), 1001);
}

TEST_F(BalanceLoadServiceTest, CancelledStreamsLeaveHubAndRegistry) {
  Publish(Backends(1, 1000));
  {
    auto a = Connect();
    auto b = Connect();
    EXPECT_EQ(a->ReadListPort(), 1000);
    EXPECT_EQ(b->ReadListPort(), 1000);
    EXPECT_EQ(unit_.hub().subscriber_count(), 2u);
    EXPECT_EQ(service_.clients().size(), 2u);
    a->context.TryCancel();
    b->context.TryCancel();
  }
  EXPECT_TRUE(WaitUntil(
      [this] { return unit_.hub().subscriber_count() == 0 && service_.clients().size() == 0; }));
}

TEST_F(BalanceLoadServiceTest, TheDrainEndsStreamsWithUnavailable) {
  Publish(Backends(1, 1000));
  auto stream = Connect();
  EXPECT_EQ(stream->ReadListPort(), 1000);
  service_.Drain();
  const grpc::Status status = stream->FinishAfterEnd();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("shutting down"));
}

TEST_F(BalanceLoadServiceTest, TheDrainAlsoEndsStreamsThatNeverSentARequest) {
  auto silent = Open();
  ASSERT_TRUE(WaitUntil([this] { return service_.clients().size() == 1; }));
  service_.Drain();
  EXPECT_EQ(silent->FinishAfterEnd().error_code(), grpc::StatusCode::UNAVAILABLE);
  // And a stream opened after the drain began ends at once.
  auto late = Open();
  EXPECT_EQ(late->FinishAfterEnd().error_code(), grpc::StatusCode::UNAVAILABLE);
}

// A source that says its service does not exist: the unit's clients end with
// that status.
TEST_F(BalanceLoadServiceTest, ASourceThatSaysTheServiceIsMissingEndsItsStreams) {
  auto stream = Connect();
  unit_.source->Deliver(discovery::BackendSet(), absl::NotFoundError("service ns/svc not found"));
  const grpc::Status status = stream->FinishAfterEnd();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "service ns/svc not found");
}

// A client that stops reading must cost the others nothing: every publish
// reaches a reading client while the stalled one's stream is full, Publish
// never waits for it, and when it reads again it gets the newest list after at
// most what the transport had buffered: no per-client queue.
TEST_F(BalanceLoadServiceTest, StalledClientDelaysNoOneAndGetsOnlyTheNewest) {
  constexpr int kPublishes = 150;
  constexpr int kBackends = 2000;  // ~20 KB a list: the stalled stream's windows fill fast
  Publish(Backends(kBackends, 1));
  auto stalled = Connect("stalled");
  auto reader = Connect("reader");
  EXPECT_EQ(reader->ReadListPort(), 1);

  absl::Mutex mu;
  int seen = 1;
  std::thread reading([&] {
    for (int want = 2; want <= kPublishes; ++want) {
      const int port = reader->ReadListPort();
      absl::MutexLock lock(&mu);
      seen = port;
      if (port != want) return;
    }
  });
  for (int i = 2; i <= kPublishes; ++i) {
    Publish(Backends(kBackends, static_cast<uint16_t>(i)));
    absl::MutexLock lock(&mu);
    auto reached = [&seen, i]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return seen >= i; };
    ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(&reached), kDeadline))
        << "publish " << i << " did not reach the reading client";
    ASSERT_EQ(seen, i);
  }
  reading.join();

  // Now the stalled client reads: what the transport buffered, then the newest.
  std::vector<int> got;
  while (got.empty() || got.back() != kPublishes) {
    got.push_back(stalled->ReadListPort());
    ASSERT_LE(got.size(), static_cast<size_t>(kPublishes));
  }
  EXPECT_LT(got.size(), static_cast<size_t>(kPublishes) / 2)
      << "the stalled client received most lists: they were queued for it";
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1], got[i]);
}

// Alternating lists while a client is stalled: whatever it was skipped, it must
// never receive the same list twice in a row, even when the newest list equals
// the one its stalled write was carrying. Run with both parities, so one run
// ends on the list that was in flight, several times (the in-flight list
// depends on how much the transport buffers).
TEST_F(BalanceLoadServiceTest, NeverTheSameListTwiceInARow) {
  constexpr int kBackends = 2000;
  constexpr uint16_t kMarker = 3;
  for (int run = 0; run < 10; ++run) {
    const int parity = run % 2;
    Publish(Backends(kBackends, 1));
    auto stalled = Connect();
    for (int i = 0; i < 200 + parity; ++i) {
      Publish(Backends(kBackends, static_cast<uint16_t>(i % 2 == 0 ? 2 : 1)));
    }
    std::vector<int> got;
    std::thread reading([&] {
      do {
        got.push_back(stalled->ReadListPort());
      } while (got.back() != kMarker && got.size() < 1000);
    });
    // Once the stream has caught up with the newest list (written or skipped as
    // already sent), a distinct marker ends what the client reads.
    ASSERT_TRUE(WaitUntil([this] {
      const std::vector<ClientInfo> clients = service_.clients().Clients();
      return clients.size() == 1 && clients[0].list_version == unit_.hub().Latest()->version;
    }));
    Publish(Backends(kBackends, kMarker));
    reading.join();
    ASSERT_EQ(got.back(), kMarker);
    for (size_t i = 1; i < got.size(); ++i) {
      EXPECT_NE(got[i - 1], got[i]) << "list " << got[i] << " sent twice in a row at " << i;
    }
    stalled->context.TryCancel();
    stalled.reset();
    ASSERT_TRUE(WaitUntil([this] { return service_.clients().size() == 0; }));
  }
}

// JAWLB_MAXSERVERS=1 over two backends.
class SubsetStreamsTest : public BalanceLoadServiceTest {
 protected:
  SubsetStreamsTest() : BalanceLoadServiceTest(1) {}
};

TEST_F(SubsetStreamsTest, EachClientGetsItsShareAndOneMovesWhenTheLoneClientLeaves) {
  Publish(Backends(2, 1000));
  std::vector<std::unique_ptr<Stream>> streams;
  std::map<std::string, std::vector<size_t>> by_backend;  // ip bytes → clients
  for (size_t i = 0; i < 3; ++i) {
    streams.push_back(Connect());
    const LoadBalanceResponse list = streams.back()->Read();
    ASSERT_EQ(list.server_list().servers_size(), 1) << list.DebugString();
    by_backend[list.server_list().servers(0).ip_address()].push_back(i);
  }
  // Three clients on two backends: two and one.
  ASSERT_EQ(by_backend.size(), 2u);
  const auto lone = std::min_element(by_backend.begin(), by_backend.end(), [](auto& a, auto& b) {
    return a.second.size() < b.second.size();
  });
  ASSERT_EQ(lone->second.size(), 1u);
  const std::string lone_backend = lone->first;
  const size_t lone_client = lone->second[0];

  // It leaves: its backend would have no one, so one of the other two moves
  // there, and is sent its new list.
  streams[lone_client]->context.TryCancel();
  std::atomic<int> moved{0};
  std::vector<std::thread> readers;
  for (size_t i = 0; i < 3; ++i) {
    if (i == lone_client) continue;
    readers.emplace_back([&, i] {
      LoadBalanceResponse next;
      if (streams[i]->rw->Read(&next) && next.server_list().servers_size() == 1 &&
          next.server_list().servers(0).ip_address() == lone_backend) {
        moved.fetch_add(1);
      }
    });
  }
  ASSERT_TRUE(WaitUntil([&] { return moved.load() == 1; }));
  for (size_t i = 0; i < 3; ++i) streams[i]->context.TryCancel();
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(moved.load(), 1);
}

TEST_F(SubsetStreamsTest, AClientReportingMostOfTheCallsGetsEveryBackend) {
  Publish(Backends(4, 1000));
  std::vector<std::unique_ptr<Stream>> streams;
  for (size_t i = 0; i < 4; ++i) {
    streams.push_back(Connect());
    ASSERT_EQ(streams.back()->Read().server_list().servers_size(), 1);
  }
  // Three light clients report, then a heavy one: its calls would swamp any
  // one backend, so it is given all four (and the others keep one each).
  auto report = [](int64_t calls) {
    LoadBalanceRequest request;
    request.mutable_client_stats()->set_num_calls_started(calls);
    request.mutable_client_stats()->set_num_calls_finished(calls);
    return request;
  };
  for (size_t i = 1; i < 4; ++i) ASSERT_TRUE(streams[i]->rw->Write(report(1)));
  ASSERT_TRUE(streams[0]->rw->Write(report(1000)));
  LoadBalanceResponse list;
  while (list.server_list().servers_size() != 4) list = streams[0]->Read();
  for (auto& stream : streams) stream->context.TryCancel();
}

TEST_F(SubsetStreamsTest, NoListBeforeTheSourceHasOne) {
  auto stream = Connect();
  Publish(Backends(3, 1000));
  const LoadBalanceResponse list = stream->Read();
  EXPECT_EQ(list.server_list().servers_size(), 1);
}

// Multi mode with two services, "alpha" and "beta" (any other name refused).
class MultiServiceStreamsTest : public BalanceLoadServiceTest {
 protected:
  MultiServiceStreamsTest()
      : BalanceLoadServiceTest(
            0,
            [this](absl::string_view name,
                   absl::string_view /*peer*/) -> absl::StatusOr<std::shared_ptr<ServiceUnit>> {
              if (name == "alpha:8000") return alpha_.unit;
              if (name == "beta:8000") return beta_.unit;
              return absl::PermissionDeniedError(absl::StrCat("\"", name, "\" is not served here"));
            }) {}
  std::vector<const TestUnit*> Units() const override { return {&unit_, &alpha_, &beta_}; }

  TestUnit alpha_{"ns/alpha"};
  TestUnit beta_{"ns/beta"};
};

TEST_F(MultiServiceStreamsTest, EachClientGetsTheListsOfTheServiceItNamed) {
  alpha_.Publish(Backends(2, 1000));
  beta_.Publish(Backends(3, 2000));
  auto a = Connect("alpha:8000");
  auto b = Connect("beta:8000");
  EXPECT_EQ(a->Read().server_list().servers_size(), 2);
  EXPECT_EQ(b->Read().server_list().servers_size(), 3);
  beta_.Publish(Backends(1, 2000));  // only beta's clients hear of it
  EXPECT_EQ(b->ReadListPort(), 2000);
  alpha_.Publish(Backends(4, 1000));
  EXPECT_EQ(a->Read().server_list().servers_size(), 4);
  // Streams hold their unit while they live.
  EXPECT_EQ(beta_.unit.use_count(), 2);
  b->context.TryCancel();
  EXPECT_TRUE(WaitUntil([&] { return beta_.unit.use_count() == 1; }));
  std::vector<ClientInfo> clients = service_.clients().Clients();
  ASSERT_EQ(clients.size(), 1u);
  EXPECT_EQ(clients[0].service, "ns/alpha");
  a->context.TryCancel();
  EXPECT_TRUE(WaitUntil([&] { return alpha_.unit.use_count() == 1; }));
}

// Two services, one with a subset policy (k=1) and load shedding (1 call/s per
// backend) and one without, as in multi mode with JAWLB_MAXSERVERS and
// JAWLB_MAXRPSPERBACKEND per service.
class UnitBalancingTest : public BalanceLoadServiceTest {
 protected:
  UnitBalancingTest()
      : BalanceLoadServiceTest(
            0,
            [this](absl::string_view name,
                   absl::string_view /*peer*/) -> absl::StatusOr<std::shared_ptr<ServiceUnit>> {
              if (name == "gamma") return gamma_.unit;
              return delta_.unit;
            }) {}
  std::vector<const TestUnit*> Units() const override { return {&unit_, &gamma_, &delta_}; }

  TestUnit gamma_{"ns/gamma", /*max_servers=*/1, /*max_rps=*/1.0};
  TestUnit delta_{"ns/delta"};
};

TEST_F(UnitBalancingTest, EachServiceSubsetsAndShedsOnItsOwn) {
  gamma_.Publish(Backends(2, 1000));
  delta_.Publish(Backends(3, 2000));
  auto g1 = Connect("gamma");
  auto g2 = Connect("gamma");
  auto d = Connect("delta");
  // gamma's clients get one backend each, different ones; delta's all three.
  const LoadBalanceResponse first = g1->Read();
  const LoadBalanceResponse second = g2->Read();
  ASSERT_EQ(first.server_list().servers_size(), 1);
  ASSERT_EQ(second.server_list().servers_size(), 1);
  EXPECT_NE(first.server_list().servers(0).ip_address(),
            second.server_list().servers(0).ip_address());
  EXPECT_EQ(d->Read().server_list().servers_size(), 3);

  // A gamma client reports far more calls than gamma's two backends take:
  // gamma's lists get drop entries, delta's do not.
  LoadBalanceRequest report;
  report.mutable_client_stats()->set_num_calls_started(1000);
  report.mutable_client_stats()->set_num_calls_finished(1000);
  ASSERT_TRUE(g1->rw->Write(report));
  auto drops = [](const LoadBalanceResponse& list) {
    int count = 0;
    for (const auto& server : list.server_list().servers()) count += server.drop() ? 1 : 0;
    return count;
  };
  LoadBalanceResponse shed;
  while (drops(shed) == 0) shed = g1->Read();
  EXPECT_GT(gamma_.hub().Latest()->drop_percent, 0);
  EXPECT_EQ(delta_.hub().Latest()->drop_percent, 0);
  delta_.Publish(Backends(2, 2000));
  EXPECT_EQ(drops(d->Read()), 0);

  for (auto* stream : {g1.get(), g2.get(), d.get()}) stream->context.TryCancel();
  EXPECT_TRUE(
      WaitUntil([&] { return gamma_.unit.use_count() == 1 && delta_.unit.use_count() == 1; }));
}

TEST_F(MultiServiceStreamsTest, ARefusedNameEndsTheStreamWithTheResolversStatus) {
  auto stream = Open();
  ASSERT_TRUE(stream->rw->Write(Initial("kube-dns.kube-system:53")));
  const grpc::Status status = stream->FinishAfterEnd();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "\"kube-dns.kube-system:53\" is not served here");
}

TEST_F(MultiServiceStreamsTest, TheDrainEndsRoutedStreamsToo) {
  beta_.Publish(Backends(1, 2000));
  auto b = Connect("beta:8000");
  EXPECT_EQ(b->ReadListPort(), 2000);
  service_.Drain();  // through the registry; beta's Hub stays open
  EXPECT_EQ(b->FinishAfterEnd().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(beta_.hub().Current().closed);
}

}  // namespace
}  // namespace jawlb::grpclb
