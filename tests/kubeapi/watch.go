package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// watch streams events as the real API server does: one JSON object per line,
// {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}, over a
// chunked (HTTP/1.1) or streamed (HTTP/2) 200 response.
func (s *server) watch(w http.ResponseWriter, r *http.Request, res *resource, ns string) {
	q := r.URL.Query()
	sel, serr := parseSelector(q.Get("labelSelector"), q.Get("fieldSelector"))
	if serr != nil {
		writeError(w, serr)
		return
	}
	timeout := 30 * time.Minute
	if t, err := strconv.Atoi(q.Get("timeoutSeconds")); err == nil && t > 0 {
		timeout = time.Duration(t) * time.Second
	}
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	flusher, _ := w.(http.Flusher)

	s.mu.Lock()
	s.watches++
	s.activeWatches++
	dropGen, expireGen, garbageGen, stallGen := s.dropGen, s.expireGen, s.garbageGen, s.stallGen
	var initial []object
	var cursor int64
	tooOld := false
	switch rv := q.Get("resourceVersion"); rv {
	case "", "0":
		initial = s.store.matching(res, ns, sel)
		cursor = s.store.rv
	default:
		n, err := strconv.ParseInt(rv, 10, 64)
		if err != nil {
			s.activeWatches--
			s.mu.Unlock()
			writeError(w, &apiError{400, "BadRequest", fmt.Sprintf("invalid resource version %q", rv), nil})
			return
		}
		cursor = n
		tooOld = n < s.store.floor
	}
	floor := s.store.floor
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.activeWatches--
		s.mu.Unlock()
	}()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	send := func(typ string, obj object) {
		line, _ := json.Marshal(object{"type": typ, "object": obj})
		_, _ = w.Write(append(line, '\n'))
		if flusher != nil {
			flusher.Flush()
		}
	}
	gone := func(rv int64, floor int64) {
		send("ERROR", (&apiError{410, "Expired", fmt.Sprintf("too old resource version: %d (%d)", rv, floor), nil}).status())
	}
	if flusher != nil {
		flusher.Flush()
	}
	if tooOld {
		gone(cursor, floor)
		return
	}
	for _, obj := range initial {
		send("ADDED", obj)
	}
	ticker := time.NewTicker(s.bookmarks)
	defer ticker.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if s.dropGen != dropGen {
			s.mu.Unlock()
			panic(http.ErrAbortHandler) // the connection (HTTP/1.1) or stream (HTTP/2) is reset
		}
		if s.expireGen != expireGen || cursor < s.store.floor {
			floor := s.store.floor
			s.mu.Unlock()
			gone(cursor, floor)
			return
		}
		garbage := s.garbageGen != garbageGen
		garbageGen = s.garbageGen
		stalled := s.stallGen != stallGen // a hung connection: nothing more, ever
		var events []event
		if !stalled {
			for _, e := range s.store.history {
				// A DELETED event carries the object as it was: the selector sees its labels.
				if e.rv > cursor && e.key.res == res.plural && (ns == "" || e.key.ns == ns) && sel.matches(e.obj) {
					events = append(events, e)
				}
			}
			cursor = s.store.rv
		}
		changed := s.changed
		s.mu.Unlock()

		if garbage {
			_, _ = w.Write([]byte("{\"type\":\"MODIFIED\",\"object\":{garbage\n"))
			if flusher != nil {
				flusher.Flush()
			}
		}
		for _, e := range events {
			send(e.typ, deepCopy(e.obj))
		}
		select {
		case <-changed:
		case <-ticker.C:
			if bookmarks && !stalled {
				send("BOOKMARK", object{"kind": res.kind, "apiVersion": res.apiVersion(),
					"metadata": object{"resourceVersion": strconv.FormatInt(cursor, 10)}})
			}
		case <-deadline.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}
