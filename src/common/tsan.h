// Happens-before annotations for ThreadSanitizer, where jawlb hands an object
// to another thread through a library TSan cannot see into (Debian's gRPC:
// a tag queued on a completion queue on one thread is taken by another).
// The handing thread calls TsanRelease(object), the taking one
// TsanAcquire(object). No-ops in every other build.
//
// Threading: free functions; thread-safe.
#ifndef JAWLB_COMMON_TSAN_H_
#define JAWLB_COMMON_TSAN_H_

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define JAWLB_TSAN_BUILD 1
#endif
#endif

#ifdef JAWLB_TSAN_BUILD
extern "C" void __tsan_acquire(void* address);
extern "C" void __tsan_release(void* address);
#endif

namespace jawlb {

inline void TsanRelease(void* object) {
#ifdef JAWLB_TSAN_BUILD
  __tsan_release(object);
#else
  (void)object;
#endif
}

inline void TsanAcquire(void* object) {
#ifdef JAWLB_TSAN_BUILD
  __tsan_acquire(object);
#else
  (void)object;
#endif
}

}  // namespace jawlb

#endif  // JAWLB_COMMON_TSAN_H_
