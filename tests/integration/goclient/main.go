// goclient: an independent grpclb client for Jawlb's end-to-end tests, built on
// grpc-go's own grpclb balancer (Debian's golang-google-grpc-dev, GOPATH mode).
//
// It dials -target (a dns://server/name:port URI: grpc-go looks up the
// _grpclb._tcp SRV record itself), calls jawlb.testing.Echo/Whoami in a loop and
// prints one line per window of -window RPCs:
//
//	window 7: alpha,beta failed=0
//
// naming, sorted, the backends that answered in that window. It runs until
// -duration has passed, then exits 0. With -ca it speaks TLS to the balancer
// and the backends alike, trusting that CA (and -cert/-key: its own
// certificate, for mutual TLS).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/golang/protobuf/ptypes/empty"
	"github.com/golang/protobuf/ptypes/wrappers"
	"google.golang.org/grpc"
	_ "google.golang.org/grpc/balancer/grpclb"
	"google.golang.org/grpc/credentials"
)

func main() {
	target := flag.String("target", "", "dns://127.0.0.1:PORT/name:port")
	window := flag.Int("window", 30, "RPCs per printed window")
	duration := flag.Duration("duration", 2*time.Minute, "how long to run")
	ca := flag.String("ca", "", "PEM CA to trust: TLS instead of plaintext")
	cert := flag.String("cert", "", "PEM client certificate (with -ca and -key)")
	key := flag.String("key", "", "PEM key of -cert")
	flag.Parse()

	security := grpc.WithInsecure()
	if *ca != "" {
		pem, err := os.ReadFile(*ca)
		if err != nil {
			fmt.Fprintf(os.Stderr, "read %s: %v\n", *ca, err)
			os.Exit(2)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			fmt.Fprintf(os.Stderr, "%s: no PEM certificate\n", *ca)
			os.Exit(2)
		}
		config := &tls.Config{RootCAs: roots}
		if *cert != "" {
			pair, err := tls.LoadX509KeyPair(*cert, *key)
			if err != nil {
				fmt.Fprintf(os.Stderr, "load %s: %v\n", *cert, err)
				os.Exit(2)
			}
			config.Certificates = []tls.Certificate{pair}
		}
		security = grpc.WithTransportCredentials(credentials.NewTLS(config))
	}

	// Importing grpclb turns on SRV lookups, but grpc-go 1.33 picks the grpclb
	// policy only when the service config names it (its DNS resolver hands the
	// balancer addresses over as attributes, not as GRPCLB-typed addresses).
	conn, err := grpc.Dial(*target, security,
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"grpclb":{}}]}`))
	if err != nil {
		fmt.Fprintf(os.Stderr, "dial %s: %v\n", *target, err)
		os.Exit(2)
	}
	defer conn.Close()

	end := time.Now().Add(*duration)
	for n := 1; time.Now().Before(end); n++ {
		seen := map[string]bool{}
		failed := 0
		lastErr := ""
		for i := 0; i < *window; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			reply := new(wrappers.StringValue)
			err := conn.Invoke(ctx, "/jawlb.testing.Echo/Whoami", new(empty.Empty), reply)
			cancel()
			if err != nil {
				failed++
				lastErr = err.Error()
				time.Sleep(10 * time.Millisecond)
				continue
			}
			seen[reply.Value] = true
		}
		names := make([]string, 0, len(seen))
		for name := range seen {
			names = append(names, name)
		}
		sort.Strings(names)
		line := fmt.Sprintf("window %d: %s failed=%d", n, strings.Join(names, ","), failed)
		if failed > 0 {
			line += " last error: " + lastErr
		}
		fmt.Println(line)
	}
}
