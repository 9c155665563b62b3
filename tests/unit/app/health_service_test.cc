// HealthService on jawlb's HTTP/2 server, asked by gRPC C++'s own health
// stub: Check and Watch as gRPC's default health service answers them.
#include "app/health_service.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

#include "tests/common/status_matchers.h"
#include "transport/connection_listener.h"
#include "transport/h2_server.h"

namespace jawlb::app {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using ::jawlb::testing::IsOk;

class HealthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport::H2Server::Options options;
    options.loops = 2;
    server_ = std::make_unique<transport::H2Server>(options);
    server_->Register(HealthService::kCheckMethod, health_.CheckHandler());
    server_->Register(HealthService::kWatchMethod, health_.WatchHandler());
    ASSERT_THAT(server_->Start(), IsOk());
    auto listener = transport::ConnectionListener::Listen({.host = "127.0.0.1"});
    ASSERT_THAT(listener, IsOk());
    listener_ = *std::move(listener);
    listener_->Start([this](int fd, const std::string& peer) { server_->Adopt(fd, peer); });
    stub_ = Health::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", listener_->port()),
                                                grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    listener_->Stop();
    server_->Stop();
  }

  grpc::Status Check(const std::string& service, HealthCheckResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    HealthCheckRequest request;
    request.set_service(service);
    return stub_->Check(&context, request, response);
  }

  HealthService health_{absl::Milliseconds(200)};
  std::unique_ptr<transport::H2Server> server_;
  std::unique_ptr<transport::ConnectionListener> listener_;
  std::unique_ptr<Health::Stub> stub_;
};

TEST_F(HealthServiceTest, CheckAnswersTheStatusOrNotFound) {
  HealthCheckResponse response;
  ASSERT_TRUE(Check("", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);  // the server answers
  const grpc::Status unknown = Check("grpc.lb.v1.LoadBalancer", &response);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(unknown.error_message().find("grpc.lb.v1.LoadBalancer"), std::string::npos);
  health_.SetServingStatus("grpc.lb.v1.LoadBalancer", false);
  ASSERT_TRUE(Check("grpc.lb.v1.LoadBalancer", &response).ok());
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Check(std::string(257, 's'), &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(HealthServiceTest, WatchSendsTheStatusThenEveryChangeAndShutdownIsFinal) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  HealthCheckRequest request;
  request.set_service("jawlb.test");
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> watch = stub_->Watch(&context, request);
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  health_.SetServingStatus("jawlb.test", true);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  health_.SetServingStatus("jawlb.test", false);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  health_.SetServingStatus("jawlb.test", true);
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  health_.Shutdown();
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  health_.SetServingStatus("jawlb.test", true);  // ignored after Shutdown()
  EXPECT_EQ(health_.StatusOf("jawlb.test"), HealthService::Status::kNotServing);
  context.TryCancel();
}

TEST_F(HealthServiceTest, ACallWithoutItsRequestEndsAfterTheTimeout) {
  // A Watch whose request never comes: the generic way, writing nothing.
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", listener_->port()),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(&context, HealthService::kWatchMethod, &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(2));
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_NE(status.error_message().find("no HealthCheckRequest"), std::string::npos);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

}  // namespace
}  // namespace jawlb::app
