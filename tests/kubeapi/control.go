package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// controlHandler: the test's side door (plain HTTP, loopback only).
//
//	POST /tokens?set=a,b            accept exactly these bearer tokens
//	POST /fault/drop                reset every open watch
//	POST /fault/stall               open watches go silent for good (no events, no bookmarks)
//	POST /fault/status?code=500&count=2&retryAfter=1&path=endpointslices
//	                                (path: matched in the request's path and unescaped query,
//	                                e.g. path=service-name=beta for one service's requests)
//	POST /fault/garbage             every open watch writes one line that is not JSON
//	POST /fault/expire              every open watch gets ERROR 410 Expired and ends
//	POST /fault/compact             forget history: resuming from an older version gets 410
//	POST /slices?enabled=0|1        serve (or hide) discovery.k8s.io/v1
//	PUT  /objects/{plural}?ns=N     create or replace the JSON object in the body
//	DELETE /objects/{plural}?ns=N&name=X
//	GET  /stats                     request counters (and TCP connections opened), as JSON
func (s *server) controlHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s.mu.Lock()
		defer s.mu.Unlock()
		switch {
		case r.URL.Path == "/tokens":
			s.tokens = map[string]bool{}
			for _, t := range strings.Split(q.Get("set"), ",") {
				if t != "" {
					s.tokens[t] = true
				}
			}
		case r.URL.Path == "/fault/drop":
			s.dropGen++
			s.notify()
		case r.URL.Path == "/fault/stall":
			s.stallGen++
			s.notify()
		case r.URL.Path == "/fault/status":
			code, _ := strconv.Atoi(q.Get("code"))
			count, _ := strconv.Atoi(q.Get("count"))
			retry, _ := strconv.Atoi(q.Get("retryAfter"))
			if count <= 0 {
				count = 1
			}
			s.statuses = append(s.statuses, &statusFault{code, count, retry, q.Get("path")})
		case r.URL.Path == "/fault/garbage":
			s.garbageGen++
			s.notify()
		case r.URL.Path == "/fault/expire":
			s.expireGen++
			s.notify()
		case r.URL.Path == "/fault/compact":
			s.store.compact()
			s.snapshots = map[string]*snapshot{}
			s.notify()
		case r.URL.Path == "/slices":
			s.slicesOff = q.Get("enabled") == "0"
		case strings.HasPrefix(r.URL.Path, "/objects/"):
			res, ok := resources[strings.TrimPrefix(r.URL.Path, "/objects/")]
			if !ok {
				http.Error(w, "unknown resource", 404)
				return
			}
			ns := q.Get("ns")
			if ns == "" {
				ns = "default"
			}
			var err *apiError
			if r.Method == http.MethodDelete {
				_, err = s.store.remove(res, ns, q.Get("name"))
			} else {
				body, _ := io.ReadAll(r.Body)
				var obj object
				if jerr := json.Unmarshal(body, &obj); jerr != nil {
					http.Error(w, jerr.Error(), 400)
					return
				}
				name, _ := metadata(obj)["name"].(string)
				if _, exists := s.store.objects[key{res.plural, ns, name}]; exists {
					delete(metadata(obj), "resourceVersion")
					_, err = s.store.replace(res, ns, name, obj)
				} else {
					_, err = s.store.create(res, ns, obj)
				}
			}
			if err != nil {
				writeJSON(w, err.code, err.status())
				return
			}
			s.notify()
		case r.URL.Path == "/stats":
			writeJSON(w, 200, object{"lists": s.lists, "watches": s.watches, "activeWatches": s.activeWatches, "connections": s.connections,
				"requests": s.requests, "unauthorized": s.unauthorized, "resourceVersion": s.store.rv})
			return
		default:
			http.Error(w, "unknown control path", 404)
			return
		}
		w.WriteHeader(204)
	})
}
