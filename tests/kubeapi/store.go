package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type object = map[string]interface{}

// resource: one kind of object the server stores.
type resource struct {
	group, version, plural, singular, kind string
	shortNames                             []string
}

func (r *resource) apiVersion() string {
	if r.group == "" {
		return r.version
	}
	return r.group + "/" + r.version
}

var resources = map[string]*resource{
	"endpoints":      {"", "v1", "endpoints", "endpoints", "Endpoints", []string{"ep"}},
	"endpointslices": {"discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", nil},
}

type key struct{ res, ns, name string }

type event struct {
	rv  int64
	typ string
	key key
	obj object
}

// store: objects, a global resourceVersion, and the event history watches
// resume from. All methods are called with the server's mutex held.
type store struct {
	rv      int64
	objects map[key]object
	history []event
	floor   int64 // a watch from a resourceVersion below this gets 410 Gone
	uid     int64
}

func newStore() *store { return &store{rv: 1, objects: map[key]object{}} }

func metadata(obj object) object {
	m, ok := obj["metadata"].(object)
	if !ok {
		m = object{}
		obj["metadata"] = m
	}
	return m
}

func deepCopy(obj object) object {
	data, _ := json.Marshal(obj)
	var out object
	_ = json.Unmarshal(data, &out)
	return out
}

// apiError is a Kubernetes Status failure.
type apiError struct {
	code    int
	reason  string
	message string
	details object
}

func (e *apiError) Error() string { return e.message }

func (e *apiError) status() object {
	s := object{"kind": "Status", "apiVersion": "v1", "metadata": object{}, "status": "Failure",
		"message": e.message, "reason": e.reason, "code": e.code}
	if e.details != nil {
		s["details"] = e.details
	}
	return s
}

func notFound(r *resource, name string) *apiError {
	return &apiError{404, "NotFound", fmt.Sprintf("%s %q not found", qualified(r), name),
		object{"name": name, "group": r.group, "kind": r.plural}}
}

func qualified(r *resource) string {
	if r.group == "" {
		return r.plural
	}
	return r.plural + "." + r.group
}

func (s *store) record(typ string, k key, obj object) {
	s.rv++
	meta := metadata(obj)
	meta["resourceVersion"] = strconv.FormatInt(s.rv, 10)
	s.history = append(s.history, event{s.rv, typ, k, deepCopy(obj)})
}

func (s *store) create(r *resource, ns string, obj object) (object, *apiError) {
	meta := metadata(obj)
	name, _ := meta["name"].(string)
	if name == "" {
		return nil, &apiError{422, "Invalid", fmt.Sprintf("%s %q is invalid: metadata.name: Required value: name is required", r.kind, name), nil}
	}
	k := key{r.plural, ns, name}
	if _, exists := s.objects[k]; exists {
		return nil, &apiError{409, "AlreadyExists", fmt.Sprintf("%s %q already exists", qualified(r), name),
			object{"name": name, "group": r.group, "kind": r.plural}}
	}
	obj["kind"] = r.kind
	obj["apiVersion"] = r.apiVersion()
	meta["namespace"] = ns
	s.uid++
	meta["uid"] = fmt.Sprintf("00000000-0000-4000-8000-%012d", s.uid)
	meta["creationTimestamp"] = time.Now().UTC().Format(time.RFC3339)
	meta["generation"] = 1
	s.record("ADDED", k, obj)
	s.objects[k] = obj
	return deepCopy(obj), nil
}

func (s *store) replace(r *resource, ns, name string, obj object) (object, *apiError) {
	k := key{r.plural, ns, name}
	old, exists := s.objects[k]
	if !exists {
		return nil, notFound(r, name)
	}
	meta := metadata(obj)
	if rv, _ := meta["resourceVersion"].(string); rv != "" && rv != metadata(old)["resourceVersion"] {
		return nil, &apiError{409, "Conflict", fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", qualified(r), name),
			object{"name": name, "group": r.group, "kind": r.plural}}
	}
	oldMeta := metadata(old)
	obj["kind"] = r.kind
	obj["apiVersion"] = r.apiVersion()
	meta["name"] = name
	meta["namespace"] = ns
	meta["uid"] = oldMeta["uid"]
	meta["creationTimestamp"] = oldMeta["creationTimestamp"]
	gen, _ := oldMeta["generation"].(float64)
	if g, ok := oldMeta["generation"].(int); ok {
		gen = float64(g)
	}
	meta["generation"] = int(gen) + 1
	s.record("MODIFIED", k, obj)
	s.objects[k] = obj
	return deepCopy(obj), nil
}

func (s *store) remove(r *resource, ns, name string) (object, *apiError) {
	k := key{r.plural, ns, name}
	old, exists := s.objects[k]
	if !exists {
		return nil, notFound(r, name)
	}
	delete(s.objects, k)
	s.record("DELETED", k, old)
	return deepCopy(old), nil
}

func (s *store) compact() {
	s.floor = s.rv
	s.history = nil
}

// selector: the equality-based label selector and metadata.name field
// selector jawlb and kubectl use.
type selector struct {
	labels []requirement
	name   string
}

type requirement struct {
	key, value string
	equal      bool
}

func parseSelector(labelSel, fieldSel string) (*selector, *apiError) {
	sel := &selector{}
	for _, part := range strings.Split(labelSel, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var req requirement
		switch {
		case strings.Contains(part, "!="):
			kv := strings.SplitN(part, "!=", 2)
			req = requirement{strings.TrimSpace(kv[0]), strings.TrimSpace(kv[1]), false}
		case strings.Contains(part, "=="):
			kv := strings.SplitN(part, "==", 2)
			req = requirement{strings.TrimSpace(kv[0]), strings.TrimSpace(kv[1]), true}
		case strings.Contains(part, "="):
			kv := strings.SplitN(part, "=", 2)
			req = requirement{strings.TrimSpace(kv[0]), strings.TrimSpace(kv[1]), true}
		default:
			return nil, &apiError{400, "BadRequest", fmt.Sprintf("unable to parse requirement: found '%s', expected: '=', '!=', '=='", part), nil}
		}
		sel.labels = append(sel.labels, req)
	}
	for _, part := range strings.Split(fieldSel, ",") {
		if part == "" {
			continue
		}
		kv := strings.SplitN(part, "=", 2)
		if len(kv) != 2 || strings.TrimPrefix(kv[0], "metadata.") != "name" {
			return nil, &apiError{400, "BadRequest", fmt.Sprintf("field label not supported: %s", kv[0]), nil}
		}
		sel.name = strings.TrimPrefix(kv[1], "=")
	}
	return sel, nil
}

func (sel *selector) matches(obj object) bool {
	meta := metadata(obj)
	if sel.name != "" && meta["name"] != sel.name {
		return false
	}
	labels, _ := meta["labels"].(object)
	for _, req := range sel.labels {
		value, ok := labels[req.key].(string)
		if (ok && value == req.value) != req.equal {
			return false
		}
	}
	return true
}

// matching: current objects of r in ns that match sel, sorted by name.
func (s *store) matching(r *resource, ns string, sel *selector) []object {
	var out []object
	for k, obj := range s.objects {
		if k.res == r.plural && (ns == "" || k.ns == ns) && sel.matches(obj) {
			out = append(out, deepCopy(obj))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		mi, mj := metadata(out[i]), metadata(out[j])
		if mi["namespace"] != mj["namespace"] {
			return mi["namespace"].(string) < mj["namespace"].(string)
		}
		return mi["name"].(string) < mj["name"].(string)
	})
	return out
}

// snapshots hold the remaining pages of paginated lists.
type snapshot struct {
	rv    int64
	items []object
}

type snapshots struct {
	mu   sync.Mutex
	next int
	byID map[string]*snapshot
}
