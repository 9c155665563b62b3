// kubeapi: a test Kubernetes API server for Jawlb's tests and demo. It speaks
// the real wire protocol for everything jawlb and kubectl use on Endpoints and
// EndpointSlices (discovery documents, paginated lists, chunked watches with
// bookmarks, create/replace/delete with resourceVersions, Status error bodies,
// bearer tokens, TLS with its own CA), and injects faults on demand through a
// plain-HTTP control port on loopback.
//
// Standard library only (Debian's golang-go, GOPATH mode). On start it writes
// into -dir: ca.crt, token, kubeconfig (pointing at itself), and prints
//
//	kubeapi ready https://127.0.0.1:PORT control http://127.0.0.1:PORT
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

func main() {
	dir := flag.String("dir", "", "where to write ca.crt, token and kubeconfig")
	token := flag.String("token", "jawlb-test-token", "the bearer token accepted at start")
	bookmarks := flag.Duration("bookmark-interval", 2*time.Second, "how often watches get a BOOKMARK")
	flag.Parse()
	if *dir == "" {
		log.Fatal("kubeapi: -dir is required")
	}

	pki, err := newPKI()
	if err != nil {
		log.Fatalf("kubeapi: certificates: %v", err)
	}
	srv := newServer(*token, *bookmarks)

	api, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	control, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	apiURL := "https://" + api.Addr().String()
	if err := writeFiles(*dir, pki, apiURL, *token); err != nil {
		log.Fatalf("kubeapi: %v", err)
	}

	go func() {
		h := &http.Server{Handler: srv.controlHandler()}
		log.Fatal(h.Serve(control))
	}()
	fmt.Printf("kubeapi ready %s control http://%s\n", apiURL, control.Addr())
	h := &http.Server{Handler: srv, TLSConfig: pki.serverTLS(), ErrorLog: log.New(os.Stderr, "kubeapi http: ", 0),
		// Counts the TCP connections clients open (the "connections" stat).
		ConnState: func(_ net.Conn, state http.ConnState) {
			if state == http.StateNew {
				srv.mu.Lock()
				srv.connections++
				srv.mu.Unlock()
			}
		}}
	log.Fatal(h.ServeTLS(api, "", ""))
}

func writeFiles(dir string, pki *pki, url, token string) error {
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), pki.caPEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token), 0o600); err != nil {
		return err
	}
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubeapi
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: tester
  user:
    token: %s
contexts:
- name: kubeapi
  context:
    cluster: kubeapi
    user: tester
    namespace: default
current-context: kubeapi
`, url, filepath.Join(dir, "ca.crt"), token)
	return os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(kubeconfig), 0o600)
}
