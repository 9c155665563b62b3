// StableHash: a fixed 64-bit hash of a string (FNV-1a with splitmix64's
// finalizer): the same in every process, build and run, unlike absl::Hash. For
// what must not change between replicas or restarts: subset rendezvous order,
// backend tags in load_balance_tokens, which backends a cut list keeps.
//
// Threading: a pure function; thread-safe.
#ifndef JAWLB_COMMON_STABLE_HASH_H_
#define JAWLB_COMMON_STABLE_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace jawlb {

inline uint64_t StableHash(absl::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  // splitmix64's finalizer: FNV alone mixes the last bytes poorly.
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ULL;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebULL;
  hash ^= hash >> 31;
  return hash;
}

}  // namespace jawlb

#endif  // JAWLB_COMMON_STABLE_HASH_H_
