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

// hitWriter is the least a ResponseWriter can be: the cache-hit benchmark
// measures the handler, not a server.
type hitWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *hitWriter) Header() http.Header         { return w.h }
func (w *hitWriter) WriteHeader(code int)        { w.code = code }
func (w *hitWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// BenchmarkCacheHit is the handler's share of the bench's "cache hit, GET
// 1 KB": lookup, freshness, headers and the access-log entry (written to a
// buffer), without a server or sockets.
func BenchmarkCacheHit(b *testing.B) {
	ce, _ := newCachedOrigin(b, api.CachePolicy{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("x", 1024))
	})
	if resp, _ := ce.get(b, "GET", "/1k", nil); resp.StatusCode != 200 {
		b.Fatalf("fill: %d", resp.StatusCode)
	}
	ce.h.cfg.Observer = nil
	r := httptest.NewRequest("GET", "http://"+cacheHost+"/1k", nil)
	r.Header.Set("Accept", "*/*")
	r.Header.Set("User-Agent", "rampart-bench")
	w := &hitWriter{}
	b.ReportAllocs()
	for b.Loop() {
		w.h, w.n = make(http.Header, 8), 0
		ce.buf.mu.Lock()
		ce.buf.b.Reset()
		ce.buf.mu.Unlock()
		ce.h.ServeHTTP(w, r)
		if w.code != 200 || w.n != 1024 || w.h.Get("Cache-Status") == "" || !strings.Contains(w.h.Get("Cache-Status"), "hit") {
			b.Fatalf("not a hit: %d %d %v", w.code, w.n, w.h)
		}
	}
}
