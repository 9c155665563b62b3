#include "testbed/kube_api.h"

#include <thread>

#include <sys/wait.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "testbed/http.h"

namespace jawlb::testbed {
absl::StatusOr<std::unique_ptr<KubeApi>> KubeApi::Start(const std::string& binary,
                                                        const std::string& dir,
                                                        const std::string& kubectl,
                                                        const std::string& bookmark_interval) {
  auto process = Subprocess::Spawn({binary, "-dir", dir, "-bookmark-interval", bookmark_interval},
                                   {}, dir + "/kubeapi.log");
  if (!process.ok()) return process.status();
  absl::StatusOr<std::string> line = (*process)->WaitForLine("kubeapi ready", absl::Seconds(60));
  if (!line.ok()) return line.status();
  // "kubeapi ready https://127.0.0.1:1 control http://127.0.0.1:2"
  std::vector<std::string> words = absl::StrSplit(*line, ' ');
  if (words.size() != 5) return absl::InternalError(absl::StrCat("kubeapi said: ", *line));
  return std::unique_ptr<KubeApi>(
      new KubeApi(*std::move(process), dir, words[2], words[4], kubectl));
}

absl::StatusOr<std::string> KubeApi::Request(const std::string& method, const std::string& path,
                                             const std::string& body) {
  absl::StatusOr<std::pair<int, std::string>> response = HttpRequest(method, control_ + path, body);
  if (!response.ok()) return response.status();
  if (response->first >= 300) {
    return absl::FailedPreconditionError(absl::StrCat(method, " ", control_, path, ": HTTP ",
                                                      response->first, ": ", response->second));
  }
  return response->second;
}

absl::Status KubeApi::Control(const std::string& path_and_query) {
  return Request("POST", path_and_query, "").status();
}

absl::Status KubeApi::Put(const std::string& plural, const std::string& json,
                          const std::string& ns) {
  return Request("PUT", absl::StrCat("/objects/", plural, "?ns=", ns), json).status();
}

absl::Status KubeApi::Delete(const std::string& plural, const std::string& name,
                             const std::string& ns) {
  return Request("DELETE", absl::StrCat("/objects/", plural, "?ns=", ns, "&name=", name), "")
      .status();
}

absl::StatusOr<int> KubeApi::Stat(const std::string& name) {
  absl::StatusOr<std::string> stats = Request("GET", "/stats", "");
  if (!stats.ok()) return stats.status();
  const std::string needle = absl::StrCat("\"", name, "\":");
  const size_t at = stats->find(needle);
  int value = 0;
  if (at == std::string::npos) return absl::NotFoundError(absl::StrCat("no stat ", name));
  const std::string rest = stats->substr(at + needle.size());
  if (!absl::SimpleAtoi(rest.substr(0, rest.find_first_of(",}")), &value)) {
    return absl::InternalError(absl::StrCat("bad stats: ", *stats));
  }
  return value;
}

absl::StatusOr<std::string> KubeApi::Kubectl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {kubectl_};
  argv.insert(argv.end(), args.begin(), args.end());
  static int runs = 0;
  const std::string log = absl::StrCat(dir_, "/kubectl-", ++runs, ".log");
  auto process = Subprocess::Spawn(argv, {"KUBECONFIG=" + kubeconfig()}, log);
  if (!process.ok()) return process.status();
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (!(*process)->Poll().has_value() && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::optional<int> status = (*process)->Poll();
  const std::string output = (*process)->Output();
  if (!ExitedWith(status, 0)) {
    return absl::FailedPreconditionError(
        absl::StrCat("kubectl ", absl::StrJoin(args, " "), " failed: ", output));
  }
  return output;
}

std::string EndpointSliceJson(const std::string& name, const std::string& service, int port,
                              const std::vector<std::pair<std::string, std::string>>& endpoints) {
  std::vector<std::string> items;
  for (const auto& [address, state] : endpoints) {
    const bool ready = state == "ready";
    const bool terminating = state == "terminating";
    items.push_back(absl::StrCat(R"({"addresses":[")", address, R"("],"conditions":{"ready":)",
                                 ready ? "true" : "false", R"(,"serving":)",
                                 ready || terminating ? "true" : "false", R"(,"terminating":)",
                                 terminating ? "true" : "false", "}}"));
  }
  return absl::StrCat(
      R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",)", R"("metadata":{"name":")",
      name, R"(","labels":{"kubernetes.io/service-name":")", service,
      R"("}},"addressType":"IPv4",)", R"("ports":[{"name":"grpc","port":)", port,
      R"(,"protocol":"TCP"}],)", R"("endpoints":[)", absl::StrJoin(items, ","), "]}");
}

}  // namespace jawlb::testbed
