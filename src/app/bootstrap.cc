#include "app/bootstrap.h"

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#include "admin/json.h"
#include "config/config.h"

namespace jawlb::app {

std::string BootstrapJson(const BootstrapOptions& options) {
  using admin::JsonQuote;
  std::string node = absl::StrCat("{\"id\":", JsonQuote(options.node));
  if (!options.cluster.empty()) absl::StrAppend(&node, ",\"cluster\":", JsonQuote(options.cluster));
  absl::StrAppend(&node, ",\"locality\":{",
                  options.zone.empty() ? "" : absl::StrCat("\"zone\":", JsonQuote(options.zone)),
                  "}}");
  return absl::StrCat(
      "{\n  \"xds_servers\": [{\"server_uri\": ", JsonQuote(options.server),
      ", \"channel_creds\": [{\"type\": \"insecure\"}], \"server_features\": [\"xds_v3\"]}],\n"
      "  \"server_features\": [\"xds_v3\"],\n  \"node\": ",
      node, "\n}\n");
}

std::optional<int> RunSubcommand(int argc, const char* const* argv) {
  if (config::Config::WantsHelp(argc, argv)) {
    std::fputs(config::Config::Help().c_str(), stdout);
    std::fputs(
        "\n  jawlb bootstrap --server=HOST:PORT [--node=ID] [--cluster=NAME] [--zone=ZONE]\n"
        "      prints the xDS bootstrap file clients read (GRPC_XDS_BOOTSTRAP) to reach jawlb\n",
        stdout);
    return 0;
  }
  if (argc < 2 || absl::string_view(argv[1]) != "bootstrap") return std::nullopt;
  BootstrapOptions options;
  for (int i = 2; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    const size_t equals = arg.find('=');
    const absl::string_view name = arg.substr(0, equals);
    const std::string value(equals == absl::string_view::npos ? "" : arg.substr(equals + 1));
    if (name == "--server") {
      options.server = value;
    } else if (name == "--node") {
      options.node = value;
    } else if (name == "--cluster") {
      options.cluster = value;
    } else if (name == "--zone") {
      options.zone = value;
    } else {
      std::fprintf(stderr,
                   "jawlb bootstrap: unknown argument \"%s\" (--server=, --node=, "
                   "--cluster=, --zone=)\n",
                   std::string(arg).c_str());
      return 1;
    }
  }
  if (options.server.empty() || options.node.empty()) {
    std::fprintf(stderr,
                 "jawlb bootstrap: --server=HOST:PORT (jawlb's gRPC port) is required, "
                 "and --node must not be empty\n");
    return 1;
  }
  std::fputs(BootstrapJson(options).c_str(), stdout);
  return 0;
}

}  // namespace jawlb::app
