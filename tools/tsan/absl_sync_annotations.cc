// ThreadSanitizer builds only (JAWLB_TSAN): tells TSan about absl::Mutex.
//
// Debian's Abseil is a shared library built without TSan, so its Mutex —
// which jawlb, gRPC 1.51 and everything here lock — is invisible to TSan:
// every access guarded by one would be reported as a race. This file defines
// the Mutex and CondVar entry points in the executable, which the dynamic
// linker then prefers over the library's (ELF interposition; the build links
// with -rdynamic), and each one calls the library's own function (dlsym
// RTLD_NEXT) with a happens-before edge around it: a lock or a wake acquires
// the mutex's address, an unlock or a wait releases it (__tsan_acquire and
// __tsan_release). That is exactly the ordering a mutex gives; what TSan
// loses is only its lock-order (deadlock) checks, which Abseil's debug mode
// does itself.
//
// One thing these edges cannot order: Abseil evaluates a waiter's Condition
// inside its lock and unlock paths, sometimes on the thread that unlocks, at
// moments the edges around the call do not bracket. Abseil's own TSan build
// hides those evaluations from TSan (its "divert" annotations); here
// Condition::Eval is interposed the same way and its memory accesses are
// ignored. Conditions are a few lines reading state under the mutex; the
// code that writes that state is checked as usual.
//
// Tied to Debian's Abseil (its inline namespace `debian3` is in the mangled
// names below); a missing symbol aborts at the first lock, saying which.
#include <cstdio>
#include <cstdlib>

#include <dlfcn.h>

#include "absl/synchronization/mutex.h"

extern "C" void __tsan_acquire(void* address);
extern "C" void __tsan_release(void* address);
extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();

namespace {

template <typename Function>
Function Real(const char* name) {
  void* real = dlsym(RTLD_NEXT, name);
  if (real == nullptr) {
    std::fprintf(stderr, "tsan annotations: %s not found in Abseil\n", name);
    std::abort();
  }
  return reinterpret_cast<Function>(real);
}

#define JAWLB_REAL(type, name) static const auto real = Real<type>("_ZN4absl7debian3" name)

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

using Plain = void (*)(Mutex*);
using Tried = bool (*)(Mutex*);
using When = void (*)(Mutex*, const Condition&);
using WhenTimeout = bool (*)(Mutex*, const Condition&, Duration);
using WhenDeadline = bool (*)(Mutex*, const Condition&, Time);

void Mutex::Lock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(Plain, "5Mutex4LockEv");
  real(this);
  __tsan_acquire(this);
}
void Mutex::ReaderLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(Plain, "5Mutex10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}
bool Mutex::TryLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(Tried, "5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}
bool Mutex::ReaderTryLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(Tried, "5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}
void Mutex::Unlock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(Plain, "5Mutex6UnlockEv");
  __tsan_release(this);
  real(this);
}
void Mutex::ReaderUnlock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(Plain, "5Mutex12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}
void Mutex::LockWhen(const Condition& cond) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(When, "5Mutex8LockWhenERKNS0_9ConditionE");
  real(this, cond);
  __tsan_acquire(this);
}
void Mutex::ReaderLockWhen(const Condition& cond) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(When, "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  real(this, cond);
  __tsan_acquire(this);
}
bool Mutex::LockWhenWithTimeout(const Condition& cond,
                                Duration timeout) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(WhenTimeout, "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);  // held whether or not the condition came true
  return met;
}
bool Mutex::LockWhenWithDeadline(const Condition& cond,
                                 Time deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(WhenDeadline, "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}
bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond,
                                      Duration timeout) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(WhenTimeout, "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}
bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond,
                                       Time deadline) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  JAWLB_REAL(WhenDeadline, "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  const bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}
void Mutex::Await(const Condition& cond) {
  JAWLB_REAL(When, "5Mutex5AwaitERKNS0_9ConditionE");
  __tsan_release(this);
  real(this, cond);
  __tsan_acquire(this);
}
bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  JAWLB_REAL(WhenTimeout, "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_release(this);
  const bool met = real(this, cond, timeout);
  __tsan_acquire(this);
  return met;
}
bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  JAWLB_REAL(WhenDeadline, "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_release(this);
  const bool met = real(this, cond, deadline);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  JAWLB_REAL(void (*)(CondVar*, Mutex*), "7CondVar4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}
bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  JAWLB_REAL(bool (*)(CondVar*, Mutex*, Duration),
             "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}
bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  JAWLB_REAL(bool (*)(CondVar*, Mutex*, Time), "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

bool Condition::Eval() const {
  static const auto real = Real<bool (*)(const Condition*)>("_ZNK4absl7debian39Condition4EvalEv");
  __tsan_ignore_thread_begin();
  const bool result = real(this);
  __tsan_ignore_thread_end();
  return result;
}

ABSL_NAMESPACE_END
}  // namespace absl
