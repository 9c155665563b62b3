package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// statusFault: answer the next `count` API requests whose path contains
// `path` with `code` (and a Retry-After header when retryAfter > 0).
type statusFault struct {
	code, count, retryAfter int
	path                    string
}

type server struct {
	mu        sync.Mutex
	store     *store
	changed   chan struct{} // closed and replaced on every change
	tokens    map[string]bool
	bookmarks time.Duration
	snapshots map[string]*snapshot
	nextSnap  int

	// Faults.
	slicesOff  bool
	stallGen   int // watches that started before this moved go silent for good
	dropGen    int // watches end abruptly when this moves
	expireGen  int // watches get ERROR 410 when this moves
	garbageGen int // watches write one garbage line when this moves
	statuses   []*statusFault

	// Counters, for tests.
	lists, watches, activeWatches, requests, unauthorized, connections int
}

func newServer(token string, bookmarks time.Duration) *server {
	return &server{store: newStore(), changed: make(chan struct{}), tokens: map[string]bool{token: true},
		bookmarks: bookmarks, snapshots: map[string]*snapshot{}}
}

// notify wakes every watch. REQUIRES: s.mu held.
func (s *server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func writeJSON(w http.ResponseWriter, code int, body interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func writeError(w http.ResponseWriter, err *apiError) { writeJSON(w, err.code, err.status()) }

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") || !s.tokens[strings.TrimPrefix(auth, "Bearer ")] {
		s.unauthorized++
		s.mu.Unlock()
		writeError(w, &apiError{401, "Unauthorized", "Unauthorized", nil})
		return
	}
	// A fault's path matches the request's path and query (unescaped), so it
	// can single out one service's requests by their label selector.
	target := r.URL.Path
	if query, err := url.QueryUnescape(r.URL.RawQuery); err == nil && query != "" {
		target += "?" + query
	}
	for i, f := range s.statuses {
		if strings.Contains(target, f.path) {
			f.count--
			if f.count <= 0 {
				s.statuses = append(s.statuses[:i], s.statuses[i+1:]...)
			}
			s.mu.Unlock()
			if f.retryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
			}
			reason := map[int]string{429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}[f.code]
			writeError(w, &apiError{f.code, reason, fmt.Sprintf("injected fault: %d", f.code), nil})
			return
		}
	}
	s.mu.Unlock()
	s.route(w, r)
}

func (s *server) route(w http.ResponseWriter, r *http.Request) {
	path := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(path, "/")
	switch {
	case path == "version":
		writeJSON(w, 200, object{"major": "1", "minor": "30", "gitVersion": "v1.30.0-kubeapi", "gitCommit": "0",
			"gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.19", "compiler": "gc", "platform": "linux/amd64"})
	case path == "openapi/v3" || strings.HasPrefix(path, "openapi/v3/"):
		s.openapi(w, r, path)
	case path == "api":
		writeJSON(w, 200, object{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []object{{"clientCIDR": "0.0.0.0/0", "serverAddress": r.Host}}})
	case path == "apis":
		groups := []object{}
		if !s.slicesDisabled() {
			gv := object{"groupVersion": "discovery.k8s.io/v1", "version": "v1"}
			groups = append(groups, object{"name": "discovery.k8s.io", "versions": []object{gv}, "preferredVersion": gv})
		}
		writeJSON(w, 200, object{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
	case path == "api/v1":
		s.resourceList(w, "v1", resources["endpoints"])
	case path == "apis/discovery.k8s.io/v1" && !s.slicesDisabled():
		s.resourceList(w, "discovery.k8s.io/v1", resources["endpointslices"])
	case len(parts) >= 2 && parts[0] == "api" && parts[1] == "v1":
		s.objects(w, r, parts[2:], "")
	case len(parts) >= 3 && parts[0] == "apis" && parts[1] == "discovery.k8s.io" && parts[2] == "v1" && !s.slicesDisabled():
		s.objects(w, r, parts[3:], "discovery.k8s.io")
	default:
		writeError(w, &apiError{404, "NotFound", "the server could not find the requested resource", nil})
	}
}

func (s *server) slicesDisabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.slicesOff
}

func (s *server) resourceList(w http.ResponseWriter, gv string, r *resource) {
	list := []object{{"name": r.plural, "singularName": r.singular, "namespaced": true, "kind": r.kind,
		"verbs": []string{"create", "delete", "get", "list", "update", "watch"}, "shortNames": r.shortNames}}
	if gv == "v1" {
		list = append(list, object{"name": "namespaces", "singularName": "namespace", "namespaced": false,
			"kind": "Namespace", "verbs": []string{"get", "list"}, "shortNames": []string{"ns"}})
	}
	writeJSON(w, 200, object{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": list})
}

// objects serves namespaces/{ns}/{plural}[/{name}] and {plural} (all namespaces).
func (s *server) objects(w http.ResponseWriter, r *http.Request, parts []string, group string) {
	var ns, plural, name string
	switch {
	case len(parts) >= 3 && parts[0] == "namespaces":
		ns, plural = parts[1], parts[2]
		if len(parts) == 4 {
			name = parts[3]
		} else if len(parts) > 4 {
			writeError(w, &apiError{404, "NotFound", "the server could not find the requested resource", nil})
			return
		}
	case len(parts) == 1:
		plural = parts[0]
	case len(parts) == 2 && parts[0] == "namespaces":
		writeJSON(w, 200, object{"kind": "Namespace", "apiVersion": "v1", "metadata": object{"name": parts[1]}, "status": object{"phase": "Active"}})
		return
	default:
		writeError(w, &apiError{404, "NotFound", "the server could not find the requested resource", nil})
		return
	}
	res, ok := resources[plural]
	if !ok || res.group != group {
		writeError(w, &apiError{404, "NotFound", "the server could not find the requested resource", nil})
		return
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && name == "" && (q.Get("watch") == "true" || q.Get("watch") == "1"):
		s.watch(w, r, res, ns)
	case r.Method == http.MethodGet && name == "":
		s.list(w, r, res, ns)
	case r.Method == http.MethodGet:
		s.mu.Lock()
		obj, ok := s.store.objects[key{res.plural, ns, name}]
		if ok {
			obj = deepCopy(obj)
		}
		s.mu.Unlock()
		if !ok {
			writeError(w, notFound(res, name))
			return
		}
		writeJSON(w, 200, obj)
	case r.Method == http.MethodPost && name == "":
		s.write(w, r, res, ns, "", 201)
	case r.Method == http.MethodPut && name != "":
		s.write(w, r, res, ns, name, 200)
	case r.Method == http.MethodDelete && name != "":
		s.change(w, 200, func() (object, *apiError) { return s.store.remove(res, ns, name) })
	case r.Method == http.MethodPatch && name != "":
		s.patch(w, r, res, ns, name)
	default:
		writeError(w, &apiError{405, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil})
	}
}

func (s *server) write(w http.ResponseWriter, r *http.Request, res *resource, ns, name string, code int) {
	body, _ := io.ReadAll(r.Body)
	var obj object
	if err := json.Unmarshal(body, &obj); err != nil {
		writeError(w, &apiError{400, "BadRequest", "the body of the request was in an unknown format", nil})
		return
	}
	if kind, _ := obj["kind"].(string); kind != "" && kind != res.kind {
		writeError(w, &apiError{400, "BadRequest", fmt.Sprintf("the kind %q does not match %q", kind, res.kind), nil})
		return
	}
	if objNS, _ := metadata(obj)["namespace"].(string); objNS != "" && objNS != ns {
		writeError(w, &apiError{400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request", nil})
		return
	}
	s.change(w, code, func() (object, *apiError) {
		if name == "" {
			return s.store.create(res, ns, obj)
		}
		return s.store.replace(res, ns, name, obj)
	})
}

// patch applies a JSON merge patch (RFC 7386), as `kubectl annotate`, `label`
// and `patch --type=merge` send. A strategic merge patch is applied the same
// way when it has no lists (then the two agree: maps merge, null deletes); one
// with lists is refused rather than merged wrongly.
func (s *server) patch(w http.ResponseWriter, r *http.Request, res *resource, ns, name string) {
	mediaType := strings.TrimSpace(strings.SplitN(r.Header.Get("Content-Type"), ";", 2)[0])
	if mediaType != "application/merge-patch+json" && mediaType != "application/strategic-merge-patch+json" {
		writeError(w, &apiError{415, "UnsupportedMediaType", fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/strategic-merge-patch+json (not %q)", mediaType), nil})
		return
	}
	body, _ := io.ReadAll(r.Body)
	var patch object
	if err := json.Unmarshal(body, &patch); err != nil {
		writeError(w, &apiError{400, "BadRequest", "the body of the request was in an unknown format", nil})
		return
	}
	if mediaType == "application/strategic-merge-patch+json" && hasList(patch) {
		writeError(w, &apiError{415, "UnsupportedMediaType", "this test server applies strategic merge patches only without lists", nil})
		return
	}
	s.change(w, 200, func() (object, *apiError) {
		current, ok := s.store.objects[key{res.plural, ns, name}]
		if !ok {
			return nil, notFound(res, name)
		}
		return s.store.replace(res, ns, name, mergePatch(deepCopy(current), patch))
	})
}

func mergePatch(target, patch object) object {
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(target, k)
		case map[string]interface{}:
			tm, _ := target[k].(map[string]interface{})
			if tm == nil {
				tm = object{}
			}
			target[k] = mergePatch(tm, pv)
		default:
			target[k] = v
		}
	}
	return target
}

func hasList(v interface{}) bool {
	switch t := v.(type) {
	case []interface{}:
		return true
	case map[string]interface{}:
		for _, e := range t {
			if hasList(e) {
				return true
			}
		}
	}
	return false
}

// change runs one store change under the lock, wakes the watches if it
// succeeded, and answers with the object (status `code`) or the error.
func (s *server) change(w http.ResponseWriter, code int, op func() (object, *apiError)) {
	s.mu.Lock()
	out, err := op()
	if err == nil {
		s.notify()
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, code, out)
}

func (s *server) list(w http.ResponseWriter, r *http.Request, res *resource, ns string) {
	q := r.URL.Query()
	sel, serr := parseSelector(q.Get("labelSelector"), q.Get("fieldSelector"))
	if serr != nil {
		writeError(w, serr)
		return
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	s.mu.Lock()
	s.lists++
	var snap *snapshot
	offset := 0
	if cont := q.Get("continue"); cont != "" {
		raw, _ := base64.RawURLEncoding.DecodeString(cont)
		parts := strings.SplitN(string(raw), ":", 2)
		if len(parts) == 2 {
			snap = s.snapshots[parts[0]]
			offset, _ = strconv.Atoi(parts[1])
		}
		if snap == nil || snap.rv < s.store.floor || offset > len(snap.items) {
			s.mu.Unlock()
			writeError(w, &apiError{410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.", nil})
			return
		}
	} else {
		snap = &snapshot{rv: s.store.rv, items: s.store.matching(res, ns, sel)}
	}
	items := snap.items[offset:]
	meta := object{"resourceVersion": strconv.FormatInt(snap.rv, 10)}
	if limit > 0 && len(items) > limit {
		items = items[:limit]
		s.nextSnap++
		id := strconv.Itoa(s.nextSnap)
		s.snapshots[id] = snap
		meta["continue"] = base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%s:%d", id, offset+limit)))
		meta["remainingItemCount"] = len(snap.items) - offset - limit
	}
	s.mu.Unlock()
	listed := make([]object, 0, len(items))
	for _, item := range items {
		item = deepCopy(item)
		delete(item, "kind") // typed lists carry kind and apiVersion once, on the list
		delete(item, "apiVersion")
		listed = append(listed, item)
	}
	writeJSON(w, 200, object{"kind": res.kind + "List", "apiVersion": res.apiVersion(), "metadata": meta, "items": listed})
}
