package proxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/cache"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/framing"
)

// BenchmarkProxy measures the plain proxy path end to end over loopback:
// client → edge → origin, 1 KB responses, keep-alive on both sides. The
// naive variant is httputil.ReverseProxy with a default-tuned Transport, for
// comparison.
func BenchmarkProxy(b *testing.B) {
	body := strings.Repeat("x", 1024)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	}))
	defer origin.Close()

	b.Run("edge", func(b *testing.B) {
		e := newEdge(&testing.T{}, site("bench.test", origin.URL))
		e.log = nil
		e.h.cfg.Log = nil
		runProxyBench(b, e.srv.URL, len(body))
		e.srv.Close()
		e.h.Close()
	})
	// The edge's listeners follow HTTP/1.1 framing under the server
	// (edgeagent/framing): the same path with that wrapper and its check.
	b.Run("edge+framing", func(b *testing.B) {
		e := newEdge(&testing.T{}, site("bench.test", origin.URL))
		e.log = nil
		e.h.cfg.Log = nil
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ok, why := framing.Admit(r); !ok {
				http.Error(w, why, http.StatusBadRequest)
				return
			}
			e.h.ServeHTTP(w, r)
		}))
		srv.Listener = &framing.Listener{Listener: srv.Listener}
		srv.Config.ConnContext, srv.Config.ConnState = framing.ConnContext, framing.ConnState
		srv.Start()
		runProxyBench(b, srv.URL, len(body))
		srv.Close()
		e.srv.Close()
		e.h.Close()
	})
	b.Run("edge+accesslog", func(b *testing.B) {
		e := newEdge(&testing.T{}, site("bench.test", origin.URL))
		runProxyBench(b, e.srv.URL, len(body))
		e.srv.Close()
		e.h.Close()
	})
	b.Run("edge+ratelimit", func(b *testing.B) {
		s := site("bench.test", origin.URL)
		s.RateLimit = api.RateLimitPolicy{Rules: []api.RateLimitRule{{Name: "all", Rate: 1_000_000, Burst: 1_000_000}}}
		e := newEdge(&testing.T{}, s)
		e.log = nil
		e.h.cfg.Log = nil
		runProxyBench(b, e.srv.URL, len(body))
		e.srv.Close()
		e.h.Close()
	})
	// A cache hit: the origin's response is stored on the first request.
	b.Run("edge-cache-hit", func(b *testing.B) {
		cached := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Cache-Control", "public, max-age=3600")
			io.WriteString(w, body)
		}))
		defer cached.Close()
		store, err := cache.New(cache.Config{})
		if err != nil {
			b.Fatal(err)
		}
		cat := catalog.New(nil, nil)
		s := site("bench.test", cached.URL)
		s.V = api.Version
		raw, _ := json.Marshal(s)
		if err := cat.Apply(catalog.Change{Kind: catalog.KindSite, Key: "bench.test", Value: raw}); err != nil {
			b.Fatal(err)
		}
		h := New(Config{Catalog: cat, AllowPrivateOrigins: true, Cache: store})
		srv := httptest.NewServer(h)
		runProxyBench(b, srv.URL, len(body))
		srv.Close()
		h.Close()
	})
	b.Run("naive-reverseproxy", func(b *testing.B) {
		u, _ := url.Parse(origin.URL)
		rp := httputil.NewSingleHostReverseProxy(u)
		srv := httptest.NewServer(rp)
		defer srv.Close()
		runProxyBench(b, srv.URL, len(body))
	})
}

func runProxyBench(b *testing.B, target string, want int) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 4096)
		for pb.Next() {
			req, _ := http.NewRequest("GET", target+"/", nil)
			req.Host = "bench.test"
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			n, _ := io.ReadFull(resp.Body, buf[:want])
			resp.Body.Close()
			if resp.StatusCode != 200 || n != want {
				b.Errorf("status %d, %d bytes", resp.StatusCode, n)
				return
			}
		}
	})
}
