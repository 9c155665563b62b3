#include "testbed/echo_client.h"

#include "absl/strings/str_cat.h"

#include "jawlb/testing/echo.grpc.pb.h"

namespace jawlb::testbed {

std::string Spread::ToString() const {
  std::string text;
  for (const auto& [name, count] : calls) absl::StrAppend(&text, name, "=", count, " ");
  absl::StrAppend(&text, "failed=", failures);
  if (failures > 0) absl::StrAppend(&text, " (last error: ", last_error, ")");
  return text;
}

Spread CallMany(const std::shared_ptr<grpc::Channel>& channel, int count, absl::Duration timeout) {
  jawlb::testing::Echo::Stub stub(channel);
  Spread spread;
  for (int i = 0; i < count; ++i) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    google::protobuf::StringValue reply;
    const grpc::Status status = stub.Whoami(&context, google::protobuf::Empty(), &reply);
    if (status.ok()) {
      ++spread.calls[reply.value()];
    } else {
      ++spread.failures;
      spread.last_error = absl::StrCat(status.error_code(), ": ", status.error_message());
    }
  }
  return spread;
}

absl::Status WaitForSpread(const std::shared_ptr<grpc::Channel>& channel,
                           const std::set<std::string>& names, bool all, int streak,
                           absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  Spread spread;
  while (absl::Now() < deadline) {
    spread = CallMany(channel, streak, absl::Seconds(2));
    bool good = spread.failures == 0;
    for (const auto& [name, count] : spread.calls) good = good && names.count(name) > 0;
    if (all) good = good && spread.calls.size() == names.size();
    if (good) return absl::OkStatus();
  }
  return absl::DeadlineExceededError(
      absl::StrCat("RPCs did not settle on the expected backends within ",
                   absl::FormatDuration(timeout), "; last ", streak, " RPCs: ", spread.ToString()));
}

}  // namespace jawlb::testbed
