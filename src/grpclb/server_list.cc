#include "grpclb/server_list.h"

#include <algorithm>
#include <numeric>
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

std::vector<size_t> WeightedOrder(const discovery::BackendSet& backends, size_t max_entries) {
  const std::vector<discovery::Backend>& all = backends.backends();
  std::vector<size_t> order;
  if (backends.weights().empty()) {
    for (size_t i = 0; i < all.size(); ++i) order.push_back(i);
    return order;
  }
  std::vector<uint64_t> weights;
  uint64_t divisor = 0;
  for (const discovery::Backend& backend : all) {
    weights.push_back(backends.WeightOf(backend));
    divisor = std::gcd(divisor, weights.back());
  }
  uint64_t total = 0;
  for (uint64_t& weight : weights) total += (weight /= divisor);
  const uint64_t cap = std::max<uint64_t>(max_entries, all.size());
  if (total > cap) {
    // Scale down what is above one entry each, so every backend keeps one.
    const uint64_t n = all.size();
    uint64_t scaled = 0;
    for (uint64_t& weight : weights) {
      scaled += (weight = 1 + (weight - 1) * (cap - n) / (total - n));
    }
    total = scaled;
  }
  // Smooth weighted round robin: each step, every backend gains its weight and
  // the one furthest ahead is listed and pays the total, so a backend's
  // entries are spread through the list rather than bunched.
  std::vector<int64_t> credit(all.size(), 0);
  for (uint64_t step = 0; step < total; ++step) {
    size_t best = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      credit[i] += static_cast<int64_t>(weights[i]);
      if (credit[i] > credit[best]) best = i;
    }
    credit[best] -= static_cast<int64_t>(total);
    order.push_back(best);
  }
  return order;
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
  const std::vector<size_t> order = WeightedOrder(backends, kMaxWeightedEntries);
  const balancer::DropPlan plan = balancer::PlanDrops(drop_percent, order.size());
  const size_t total = plan.copies * order.size() + plan.drops;
  list->mutable_servers()->Reserve(static_cast<int>(total));
  std::vector<std::string> tokens;
  if (!token_prefix.empty()) {
    for (const discovery::Backend& backend : backends.backends()) {
      tokens.push_back(absl::StrCat(token_prefix, BackendTag(backend)));
    }
  }
  size_t next = 0;  // the next backend entry, cycling through `order`
  for (size_t i = 0; i < total; ++i) {
    // Entry i is a drop when the evenly spread drop count steps up at it.
    if ((i + 1) * plan.drops / total > i * plan.drops / total) {
      grpc::lb::v1::Server* drop = list->add_servers();
      drop->set_drop(true);
      drop->set_load_balance_token(kOverloadToken);
      continue;
    }
    const size_t index = order[next++ % order.size()];
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
