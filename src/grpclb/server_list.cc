#include "grpclb/server_list.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/slice.h"

#include "balancer/load_shedder.h"
#include "balancer/subset_planner.h"

namespace jawlb::grpclb {

std::string Base32(uint64_t value, int width) {
  static constexpr char kDigits[] = "0123456789abcdefghjkmnpqrstvwxyz";
  std::string out;
  do {
    out.insert(out.begin(), kDigits[value % 32]);
    value /= 32;
  } while ((width == 0 && value != 0) || (width > 0 && static_cast<int>(out.size()) < width));
  return out;
}

std::string TokenPrefix(absl::string_view replica, uint64_t client) {
  return absl::StrCat(kTokenVersion, ".", replica, ".", Base32(client), ".");
}

std::string BackendTag(const discovery::Backend& backend) {
  return Base32(balancer::StableHash(backend.ToString()), 4);
}

grpc::lb::v1::LoadBalanceResponse MakeServerListResponse(const discovery::BackendSet& backends,
                                                         absl::string_view token_prefix,
                                                         int drop_percent) {
  grpc::lb::v1::LoadBalanceResponse response;
  grpc::lb::v1::ServerList* list = response.mutable_server_list();
  if (backends.empty()) {
    grpc::lb::v1::Server* drop = list->add_servers();
    drop->set_drop(true);
    drop->set_load_balance_token(kNoBackendsToken);
    return response;
  }
  const balancer::DropPlan plan = balancer::PlanDrops(drop_percent, backends.size());
  const size_t total = plan.copies * backends.size() + plan.drops;
  list->mutable_servers()->Reserve(static_cast<int>(total));
  std::vector<std::string> tokens;
  if (!token_prefix.empty()) {
    for (const discovery::Backend& backend : backends.backends()) {
      tokens.push_back(absl::StrCat(token_prefix, BackendTag(backend)));
    }
  }
  size_t next = 0;  // the next backend entry, cycling through the set
  for (size_t i = 0; i < total; ++i) {
    // Entry i is a drop when the evenly spread drop count steps up at it.
    if ((i + 1) * plan.drops / total > i * plan.drops / total) {
      grpc::lb::v1::Server* drop = list->add_servers();
      drop->set_drop(true);
      drop->set_load_balance_token(kOverloadToken);
      continue;
    }
    const size_t index = next++ % backends.size();
    const discovery::Backend& backend = backends.backends()[index];
    grpc::lb::v1::Server* server = list->add_servers();
    server->set_ip_address(backend.ip);
    server->set_port(backend.port);
    if (!tokens.empty()) server->set_load_balance_token(tokens[index]);
  }
  return response;
}

grpc::lb::v1::LoadBalanceResponse MakeInitialResponse(absl::Duration client_stats_interval) {
  grpc::lb::v1::LoadBalanceResponse response;
  grpc::lb::v1::InitialLoadBalanceResponse* initial = response.mutable_initial_response();
  if (client_stats_interval > absl::ZeroDuration()) {
    const int64_t seconds =
        absl::IDivDuration(client_stats_interval, absl::Seconds(1), &client_stats_interval);
    google::protobuf::Duration* interval = initial->mutable_client_stats_report_interval();
    interval->set_seconds(seconds);
    interval->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(client_stats_interval)));
  }
  return response;
}

grpc::ByteBuffer Serialize(const google::protobuf::MessageLite& message) {
  std::string bytes = message.SerializeAsString();
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace jawlb::grpclb
