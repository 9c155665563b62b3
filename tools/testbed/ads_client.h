// AdsClient: a raw xDS ADS stream (state of the world) to one jawlb, on its own
// connection, for tests that look at the resources jawlb sends: it subscribes
// to a listener and then to the assignment of the cluster the listener routes
// to, as a gRPC client's xDS client would (without the route and cluster in
// between, which jawlb names after the cluster), and ACKs every response.
//
// Threading: thread-compatible; one caller at a time.
#ifndef JAWLB_TOOLS_TESTBED_ADS_CLIENT_H_
#define JAWLB_TOOLS_TESTBED_ADS_CLIENT_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

#include "envoy/config/endpoint/v3/endpoint.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace jawlb::testbed {

class AdsClient {
 public:
  // Opens the stream to 127.0.0.1:`port` as node `node`.
  AdsClient(int port, const std::string& node);
  ~AdsClient();

  // Subscribes to listener `name`; returns the cluster it routes to (the
  // route configuration's name) once the Listener arrives, then subscribes to
  // that cluster's assignment. Errors: the stream ended, or no such listener.
  absl::StatusOr<std::string> Subscribe(const std::string& name);
  // The next assignment (each response is ACKed). Error: the stream ended.
  absl::StatusOr<envoy::config::endpoint::v3::ClusterLoadAssignment> NextAssignment();

  // "ip:port" of every endpoint of an assignment, sorted.
  static std::vector<std::string> Addresses(
      const envoy::config::endpoint::v3::ClusterLoadAssignment& assignment);

 private:
  using Request = envoy::service::discovery::v3::DiscoveryRequest;
  using Response = envoy::service::discovery::v3::DiscoveryResponse;
  // Reads one response and ACKs it (the names subscribed for its type stay).
  absl::StatusOr<Response> ReadAndAck();
  bool Send(const std::string& type, const std::string& version, const std::string& nonce);

  const std::string node_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<envoy::service::discovery::v3::AggregatedDiscoveryService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Request, Response>> stream_;
  std::map<std::string, std::string> names_;  // by type URL: the one name subscribed
  bool node_sent_ = false;
};

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_ADS_CLIENT_H_
