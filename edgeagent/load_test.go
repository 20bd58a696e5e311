package edgeagent

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoadHoldsCap drives the edge with four times more concurrent clients
// than its in-flight cap for a few seconds: every answer is 200 or 503, the
// origin never sees more than the cap at once, /healthz answers throughout,
// /metrics counts the shedding, and after tens of thousands of requests the
// goroutines settle back to the baseline (no leak).
func TestLoadHoldsCap(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const limit, clients = 16, 64
	loadFor := 3 * time.Second
	var cur, peak atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond) // the origin's own latency, so requests overlap
		io.WriteString(w, "ok")
	}))
	defer origin.Close()
	a, _ := limitsAgent(t, origin.URL, Limits{MaxInFlight: limit})
	base := runtime.NumGoroutine()

	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var ok, shed, other atomic.Int64
	var firstErr atomic.Value
	stop := time.Now().Add(loadFor)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				req, _ := http.NewRequest("GET", "http://"+a.Addr("http")+"/", nil)
				req.Host = limitsHost
				resp, err := client.Do(req)
				if err != nil {
					other.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 503:
					shed.Add(1)
				default:
					other.Add(1)
					firstErr.CompareAndSwap(nil, resp.Status)
				}
			}
		}()
	}
	// /healthz on the admin listener keeps answering while the edge sheds.
	health := 0
	for time.Now().Before(stop) {
		resp, err := http.Get("http://" + a.Addr("admin") + "/healthz")
		if err != nil {
			t.Fatalf("healthz under load: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("healthz under load: %d", resp.StatusCode)
		}
		health++
	}
	wg.Wait()
	tr.CloseIdleConnections()
	t.Logf("%d ok, %d shed, %d other, origin peak %d, %d healthz", ok.Load(), shed.Load(), other.Load(), peak.Load(), health)
	if other.Load() != 0 {
		t.Errorf("%d answers were neither 200 nor 503; first: %v", other.Load(), firstErr.Load())
	}
	if ok.Load() == 0 || shed.Load() == 0 {
		t.Errorf("want both served and shed requests: %d ok, %d shed", ok.Load(), shed.Load())
	}
	if p := peak.Load(); p > limit {
		t.Errorf("the origin saw %d requests at once; the cap is %d", p, limit)
	}
	resp, err := http.Get("http://" + a.Addr("admin") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `rampart_requests_total{site="",status="503",action="shed"}`) ||
		!strings.Contains(string(body), `rampart_requests_total{site="`+limitsHost+`",status="200",action="proxy"}`) ||
		strings.Contains(string(body), "rampart_shed_total 0\n") {
		t.Errorf("metrics do not show the load:\n%s", body)
	}
	// Goroutines return to the baseline once the clients are gone, plus at
	// most one per pooled origin connection (on the test origin's side; the
	// edge's pool needs none) and the pool never holds more than the cap.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+limit+4 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after the load\n%s", base, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond) // polling a condition with a deadline
	}
}
