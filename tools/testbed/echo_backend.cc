#include "testbed/echo_backend.h"

#include "absl/strings/str_cat.h"

namespace jawlb::testbed {

grpc::ServerUnaryReactor* EchoBackend::Service::Whoami(grpc::CallbackServerContext* context,
                                                       const google::protobuf::Empty* request,
                                                       google::protobuf::StringValue* response) {
  calls.fetch_add(1);
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("lb-token"); it != metadata.end()) {
    absl::MutexLock lock(&mu);
    tokens.emplace(it->second.data(), it->second.size());
  }
  response->set_value(name);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

absl::StatusOr<std::unique_ptr<EchoBackend>> EchoBackend::Start(
    std::string name, std::string ip, bool health,
    std::shared_ptr<grpc::ServerCredentials> credentials) {
  std::unique_ptr<EchoBackend> backend(new EchoBackend(std::move(name)));
  int port = 0;
  // A process-wide switch, read when a server is built.
  grpc::EnableDefaultHealthCheckService(health);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      absl::StrCat(ip, ":0"),
      credentials != nullptr ? std::move(credentials) : grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&backend->service_);
  backend->server_ = builder.BuildAndStart();
  if (backend->server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("echo backend: cannot listen on ", ip));
  }
  backend->address_ = absl::StrCat(ip, ":", port);
  return backend;
}

void EchoBackend::SetServing(bool serving) {
  if (server_ != nullptr && server_->GetHealthCheckService() != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(serving);
  }
}

void EchoBackend::Stop() {
  if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
}

EchoBackend::~EchoBackend() { Stop(); }

}  // namespace jawlb::testbed
