// ObjectStore: what a Reflector keeps in sync with the API server. The
// Reflector feeds it a complete list, then every watch event, and calls Sync()
// whenever what it holds is a complete, consistent state (after a list, after
// each batch of events), never in between. discovery::ServiceView implements it.
//
// Objects are simdjson elements valid only during the call.
//
// Threading: called on the Reflector's thread only (the transport's I/O thread).
#ifndef JAWLB_K8S_OBJECT_STORE_H_
#define JAWLB_K8S_OBJECT_STORE_H_

#include <vector>

#include "absl/time/time.h"
#include <simdjson.h>

namespace jawlb::k8s {

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Everything there is now: objects not in `objects` are gone (client-go's Replace).
  virtual void Replace(const std::vector<simdjson::dom::element>& objects) = 0;
  // ADDED or MODIFIED.
  virtual void Upsert(simdjson::dom::element object) = 0;
  // DELETED (`object` is its last state).
  virtual void Delete(simdjson::dom::element object) = 0;
  // The store now holds a consistent state: act on it. `observed` is when the
  // bytes that brought it arrived (the list's last page, the events' chunk).
  virtual void Sync(absl::Time observed) = 0;
};

}  // namespace jawlb::k8s

#endif  // JAWLB_K8S_OBJECT_STORE_H_
