#include "admin/process_metrics.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace jawlb::admin {
namespace {

// The fields of /proc/self/stat after the command name, which may hold spaces:
// fields[0] is field 3 (state) of proc(5).
std::vector<std::string> StatFields() {
  std::ifstream file("/proc/self/stat");
  std::stringstream text;
  text << file.rdbuf();
  const std::string stat = text.str();
  const size_t end_of_name = stat.rfind(')');
  if (end_of_name == std::string::npos) return {};
  return absl::StrSplit(stat.substr(end_of_name + 2), ' ', absl::SkipEmpty());
}

double Field(const std::vector<std::string>& fields, size_t proc_number) {
  double value = 0;
  if (proc_number < 3 || proc_number - 3 >= fields.size() ||
      !absl::SimpleAtod(fields[proc_number - 3], &value)) {
    return 0;
  }
  return value;
}

// Boot time, for the start time (field 22 counts clock ticks since boot).
double BootTime() {
  std::ifstream file("/proc/stat");
  std::string line;
  while (std::getline(file, line)) {
    double value = 0;
    if (line.rfind("btime ", 0) == 0 && absl::SimpleAtod(line.substr(6), &value)) return value;
  }
  return 0;
}

double OpenFds() {
  std::error_code error;
  double count = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", error), end; !error && it != end;
       it.increment(error)) {
    ++count;
  }
  return count;
}

}  // namespace

void WriteProcessMetrics(metrics::TextWriter& out) {
  const std::vector<std::string> stat = StatFields();
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  out.Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
              (Field(stat, 14) + Field(stat, 15)) / ticks);
  out.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
            Field(stat, 24) * page);
  out.Gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", Field(stat, 23));
  out.Gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
            BootTime() + Field(stat, 22) / ticks);
  out.Gauge("process_open_fds", "Number of open file descriptors.", OpenFds());
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.Gauge("process_max_fds", "Maximum number of open file descriptors.",
              limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(limit.rlim_cur));
  }
  out.Gauge("process_threads", "Number of OS threads in the process.", Field(stat, 20));
}

}  // namespace jawlb::admin
