#include "grpclb/server_list.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/slice.h"

#include "balancer/load_shedder.h"
#include "common/stable_hash.h"

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
  return Base32(StableHash(backend.ToString()), 4);
}

namespace {

// The backends' weights reduced by their greatest common divisor.
std::vector<uint64_t> ReducedWeights(const discovery::BackendSet& backends) {
  std::vector<uint64_t> weights;
  uint64_t divisor = 0;
  for (const discovery::Backend& backend : backends.backends()) {
    weights.push_back(backends.WeightOf(backend));
    divisor = std::gcd(divisor, weights.back());
  }
  for (uint64_t& weight : weights) weight /= std::max<uint64_t>(divisor, 1);
  return weights;
}

}  // namespace

size_t WeightedEntryCap(size_t backends) {
  return std::max(kMaxWeightedEntries, kMaxWeightedEntriesPerBackend * backends);
}

size_t WeightedEntries(const discovery::BackendSet& backends) {
  if (backends.weights().empty()) return backends.size();
  size_t total = 0;
  for (uint64_t weight : ReducedWeights(backends)) total += weight;
  return total;
}

std::vector<size_t> WeightedOrder(const discovery::BackendSet& backends, size_t max_entries) {
  const size_t n = backends.size();
  std::vector<size_t> order;
  if (backends.weights().empty()) {
    for (size_t i = 0; i < n; ++i) order.push_back(i);
    return order;
  }
  std::vector<uint64_t> weights = ReducedWeights(backends);
  uint64_t total = 0;
  for (uint64_t weight : weights) total += weight;
  const uint64_t cap = std::max<uint64_t>(max_entries, n);
  if (total > cap) {
    // Scale down what is above one entry each, so every backend keeps one.
    uint64_t scaled = 0;
    for (uint64_t& weight : weights) {
      scaled += (weight = 1 + (weight - 1) * (cap - n) / (total - n));
    }
    total = scaled;
  }
  // Each backend's entries are spread evenly through the list: its k-th of w
  // sits at (k + 1/2) / w of the way through, and the list is every entry in
  // that order (ties by backend). O(total log total).
  struct Entry {
    double at;
    size_t backend;
  };
  std::vector<Entry> entries;
  entries.reserve(total);
  for (size_t i = 0; i < n; ++i) {
    for (uint64_t k = 0; k < weights[i]; ++k) {
      entries.push_back({(static_cast<double>(k) + 0.5) / static_cast<double>(weights[i]), i});
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.at != b.at ? a.at < b.at : a.backend < b.backend;
  });
  order.reserve(entries.size());
  for (const Entry& entry : entries) order.push_back(entry.backend);
  return order;
}

discovery::BackendSet FitToBytes(const discovery::BackendSet& backends,
                                 absl::string_view token_prefix, int drop_percent,
                                 size_t max_bytes) {
  size_t size = MakeServerListResponse(backends, token_prefix, drop_percent).ByteSizeLong();
  if (size <= max_bytes) return backends;
  // The backends in an order of their own (a hash of each), so the ones kept
  // stay the same as others come and go.
  std::vector<discovery::Backend> ranked = backends.backends();
  std::sort(
      ranked.begin(), ranked.end(), [](const discovery::Backend& a, const discovery::Backend& b) {
        return std::pair(StableHash(a.ToString()), a) < std::pair(StableHash(b.ToString()), b);
      });
  size_t keep = ranked.size();
  discovery::BackendSet fitted;
  while (size > max_bytes && keep > 1) {
    // Entries are about the same size: aim a little under what fits.
    keep = std::max<size_t>(
        1, std::min(keep - 1,
                    static_cast<size_t>(static_cast<double>(keep) * static_cast<double>(max_bytes) /
                                        static_cast<double>(size) * 0.99)));
    fitted = backends.Restrict(std::vector<discovery::Backend>(
        ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(keep)));
    size = MakeServerListResponse(fitted, token_prefix, drop_percent).ByteSizeLong();
  }
  return fitted;
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
  const std::vector<size_t> order = WeightedOrder(backends, WeightedEntryCap(backends.size()));
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
