// ThreadSanitizer builds only (JAWLB_TSAN): spdlog makes its registry and
// default logger on first use, inside Debian's uninstrumented libspdlog,
// behind a function-local static whose guard TSan cannot see on the reading
// side. jawlb's main sets logging up before it starts a thread; a test may
// log first from a worker thread. Made here, before main, on the main thread.
#include "spdlog/spdlog.h"

namespace {

const bool kLoggingMade = [] {
  (void)spdlog::default_logger_raw();
  return true;
}();

}  // namespace
