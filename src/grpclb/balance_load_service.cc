#include "grpclb/balance_load_service.h"

#include "grpclb/balance_load_reactor.h"
#include "grpclb/server_list.h"

namespace jawlb::grpclb {

BalanceLoadService::BalanceLoadService(Hub& hub, absl::Duration client_stats_interval)
    : hub_(hub), initial_response_(Serialize(MakeInitialResponse(client_stats_interval))) {}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* BalanceLoadService::BalanceLoad(
    grpc::CallbackServerContext* context) {
  return BalanceLoadReactor::Start(context, hub_, clients_, initial_response_, metrics_);
}

}  // namespace jawlb::grpclb
