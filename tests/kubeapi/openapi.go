package main

import (
	"net/http"
	"strings"
)

// OpenAPI v3, as much as kubectl needs: it reads the operations of a
// group-version to learn that the server validates fields itself (the
// fieldValidation query parameter), and then sends fieldValidation=Strict
// instead of validating against a downloaded schema.
func (s *server) openapi(w http.ResponseWriter, r *http.Request, path string) {
	gvs := map[string]*resource{"api/v1": resources["endpoints"]}
	if !s.slicesDisabled() {
		gvs["apis/discovery.k8s.io/v1"] = resources["endpointslices"]
	}
	if path == "openapi/v3" {
		paths := object{}
		for gv := range gvs {
			paths[gv] = object{"serverRelativeURL": "/openapi/v3/" + gv + "?hash=0"}
		}
		writeJSON(w, 200, object{"paths": paths})
		return
	}
	res, ok := gvs[strings.TrimPrefix(path, "openapi/v3/")]
	if !ok {
		writeError(w, &apiError{404, "NotFound", "the server could not find the requested resource", nil})
		return
	}
	gvk := object{"group": res.group, "version": res.version, "kind": res.kind}
	op := func(action string) object {
		return object{
			"x-kubernetes-group-version-kind": gvk,
			"x-kubernetes-action":             action,
			"parameters": []object{
				{"name": "fieldValidation", "in": "query", "schema": object{"type": "string", "uniqueItems": true}},
			},
			"responses": object{"200": object{"description": "OK"}},
		}
	}
	prefix := "/" + strings.TrimPrefix(path, "openapi/v3/") + "/namespaces/{namespace}/" + res.plural
	writeJSON(w, 200, object{
		"openapi": "3.0.0",
		"info":    object{"title": "Kubernetes", "version": "v1.30.0"},
		"paths": object{
			prefix:             object{"post": op("post"), "get": op("list")},
			prefix + "/{name}": object{"put": op("put"), "patch": op("patch"), "get": op("get"), "delete": op("delete")},
		},
		"components": object{"schemas": object{}},
	})
}
