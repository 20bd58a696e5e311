package wafgate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/edgeagent/accesslog"
	"github.com/rampart-edge/rampart/edgeagent/catalog"
	"github.com/rampart-edge/rampart/edgeagent/internal/poll"
	"github.com/rampart-edge/rampart/edgeagent/proxy"
	"github.com/rampart-edge/rampart/waf"
)

// engines is shared by every test: compiled engines are immutable, and the
// first CRS compilation is the slow part of these tests.
var engines = waf.NewCache(waf.Options{})

const host = "shop.example.com"

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// edge is a proxy with a gate in front of an origin that counts and echoes.
type edge struct {
	cat    *catalog.Catalog
	gate   *Gate
	alog   *accesslog.Logger
	buf    *logBuf
	srv    *httptest.Server
	origin *httptest.Server
	hits   atomic.Int64
	bodies sync.Map // request id → body the origin received
}

func newEdge(t *testing.T, pol api.WAFPolicy) *edge {
	t.Helper()
	e := &edge{cat: catalog.New(nil, nil), buf: &logBuf{}}
	e.origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		e.bodies.Store(r.Header.Get("X-Request-Id"), b)
		if r.URL.Path == "/leak" {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>Warning: mysql_fetch_array() expects parameter 1 to be resource, boolean given in /var/www/index.php on line 3; You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version</html>")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(e.origin.Close)
	e.put(t, pol)
	g, err := New(Config{Catalog: e.cat, Engines: engines, Secret: []byte("test-secret-test-secret")})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Warm(); err != nil {
		t.Fatal(err)
	}
	e.gate = g
	e.alog = accesslog.New(e.buf, "test", "n1")
	h := proxy.New(proxy.Config{Catalog: e.cat, Log: e.alog, AllowPrivateOrigins: true, WAF: g})
	e.srv = httptest.NewServer(h)
	t.Cleanup(func() { e.srv.Close(); h.Close(); g.Close() })
	return e
}

func (e *edge) put(t *testing.T, pol api.WAFPolicy) {
	t.Helper()
	s := api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: e.origin.URL}},
		HTTPS: api.HTTPSPolicy{HTTP: api.HTTPAllow}, WAF: pol}
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cat.Apply(catalog.Change{Kind: catalog.KindSite, Key: host, Value: raw}); err != nil {
		t.Fatal(err)
	}
}

// do sends a request and returns the response with its body read.
func (e *edge) do(t *testing.T, method, target string, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
	req.Header.Set("Accept", "*/*")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// entry returns the access-log line of a request id.
func (e *edge) entry(t *testing.T, reqID string) map[string]any {
	t.Helper()
	if err := e.alog.Flush(); err != nil {
		t.Fatal(err)
	}
	e.buf.mu.Lock()
	defer e.buf.mu.Unlock()
	for _, l := range strings.Split(e.buf.b.String(), "\n") {
		if !strings.Contains(l, reqID) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		return m
	}
	t.Fatalf("no access-log line for %s", reqID)
	return nil
}

func ruleIDs(m map[string]any) []int {
	var out []int
	ids, _ := m["rule_ids"].([]any)
	for _, v := range ids {
		out = append(out, int(v.(float64)))
	}
	return out
}

func hasRule(m map[string]any, id int) bool {
	for _, r := range ruleIDs(m) {
		if r == id {
			return true
		}
	}
	return false
}

const sqli = "/products?id=1%27%20OR%20%271%27=%271%27%20UNION%20SELECT%20username,password%20FROM%20users--"

// corpusPolicy is PL1 in block mode with the one tuning GraphQL needs: a
// query document's variables ("$input") look like MongoDB operators to
// 942290 and its syntax like a shell command to 932235, so those two rules
// are excluded for the query argument of /graphql only.
var corpusPolicy = api.WAFPolicy{Mode: api.WAFBlock, Exclusions: []api.WAFExclusion{
	{RuleIDs: []int{942290, 932235}, PathPrefix: "/graphql", Args: []string{"json.query"}},
}}

func TestBenignCorpusPassesPL1Block(t *testing.T) {
	e := newEdge(t, corpusPolicy)
	files, err := filepath.Glob("testdata/benign/*.http")
	if err != nil || len(files) < 10 {
		t.Fatalf("corpus: %v files, %v", len(files), err)
	}
	addr := e.srv.Listener.Addr().String()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			resp := sendRaw(t, addr, raw)
			id := resp.Header.Get("X-Request-Id")
			m := e.entry(t, id)
			if resp.StatusCode != 200 || m["waf_action"] != ActPass {
				t.Fatalf("status %d, waf_action %v, rules %v, score %v, matched %v", resp.StatusCode, m["waf_action"], m["rule_ids"], m["anomaly_score"], m["matched"])
			}
			// The origin got the body byte for byte.
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
			if err != nil {
				t.Fatal(err)
			}
			want, _ := io.ReadAll(req.Body)
			got, _ := e.bodies.Load(id)
			if gb, _ := got.([]byte); !bytes.Equal(gb, want) {
				t.Fatalf("origin got %d body bytes, want %d", len(gb), len(want))
			}
		})
	}
}

// sendRaw writes a raw HTTP/1.1 request and reads the response.
func sendRaw(t *testing.T, addr string, raw []byte) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestBlockModeBlocksSQLi(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFBlock})
	resp, body := e.do(t, "GET", sqli, "")
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 403 || !strings.Contains(body, "request id: "+id) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, cache-control %q, body %q", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	if e.hits.Load() != 0 {
		t.Fatal("the origin was contacted")
	}
	m := e.entry(t, id)
	if m["waf_action"] != ActBlock || m["action"] != proxy.ActionWAF || !hasRule(m, 942100) || !hasRule(m, 949110) {
		t.Fatalf("log: %v", m)
	}
	if score := m["anomaly_score"].(float64); score < 5 {
		t.Fatalf("anomaly score %v", score)
	}
	if s, _ := m["matched"].(string); !strings.Contains(s, "942100:ARGS:id=") {
		t.Fatalf("matched %q", s)
	}
}

func TestDetectThenBlockRollout(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFDetect})
	resp, _ := e.do(t, "GET", sqli, "")
	m := e.entry(t, resp.Header.Get("X-Request-Id"))
	if resp.StatusCode != 200 || m["waf_action"] != ActLog || !hasRule(m, 942100) {
		t.Fatalf("detect: status %d, log %v", resp.StatusCode, m)
	}
	// Switch to block: the new engine is compiled in the background while
	// requests keep flowing; within a deadline attacks are blocked.
	e.put(t, api.WAFPolicy{Mode: api.WAFBlock})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := e.do(t, "GET", sqli, "")
		if resp.StatusCode == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d after switching to block", resp.StatusCode)
		}
	}
	if resp, _ := e.do(t, "GET", "/products?id=42", ""); resp.StatusCode != 200 {
		t.Fatalf("benign request after rollout: %d", resp.StatusCode)
	}
}

func TestTarpitHoldsThenDenies(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFBlock, Action: api.WAFActionTarpit, TarpitMS: 1500})
	start := time.Now()
	resp, body := e.do(t, "GET", sqli, "")
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Fatalf("answered after %v, want at least 1.5s", took)
	}
	if resp.StatusCode != 403 || !strings.Contains(body, "request id:") {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if m := e.entry(t, resp.Header.Get("X-Request-Id")); m["waf_action"] != ActTarpit {
		t.Fatalf("log %v", m)
	}
	// A full tarpit answers at once rather than holding more (well under
	// the 1.5 s a held request waits, with room for a loaded machine).
	e.gate.tarpits = make(chan struct{})
	start = time.Now()
	if resp, _ := e.do(t, "GET", sqli, ""); resp.StatusCode != 403 || time.Since(start) > time.Second {
		t.Fatalf("full tarpit: %d after %v", resp.StatusCode, time.Since(start))
	}
}

var puzzleRE = `const puzzle = "`

func TestChallenge(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFBlock, Action: api.WAFActionChallenge})
	resp, body := e.do(t, "GET", sqli, "")
	if resp.StatusCode != 403 || !strings.Contains(body, puzzleRE) || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d body %q", resp.StatusCode, body)
	}
	if m := e.entry(t, resp.Header.Get("X-Request-Id")); m["waf_action"] != ActChallenge {
		t.Fatalf("log %v", m)
	}
	// A client without JavaScript never sets the answer: challenged again.
	if resp, _ := e.do(t, "GET", sqli, ""); resp.StatusCode != 403 {
		t.Fatalf("second try without an answer: %d", resp.StatusCode)
	}
	p := body[strings.Index(body, puzzleRE)+len(puzzleRE):]
	p = p[:strings.IndexByte(p, '"')]

	// A wrong answer or a forged puzzle stays challenged.
	for _, bad := range []string{p + "~0x", "1." + strings.SplitN(p, ".", 2)[1] + "~1", "garbage"} {
		if resp, _ := e.do(t, "GET", sqli, "", "Cookie", answerCookie+"="+bad); resp.StatusCode != 403 {
			t.Fatalf("bad answer %q: %d", bad, resp.StatusCode)
		}
	}
	// Solve it as the page's script does.
	n := 0
	for !solved(p, strconv.Itoa(n)) {
		n++
	}
	resp, _ = e.do(t, "GET", sqli, "", "Cookie", answerCookie+"="+p+"~"+strconv.Itoa(n))
	if resp.StatusCode != 200 {
		t.Fatalf("solved: %d", resp.StatusCode)
	}
	var clr string
	for _, c := range resp.Cookies() {
		if c.Name == clearanceCookie {
			clr = c.Value
			if !c.HttpOnly || c.MaxAge <= 0 {
				t.Fatalf("clearance cookie %+v", c)
			}
		}
	}
	if m := e.entry(t, resp.Header.Get("X-Request-Id")); m["waf_action"] != ActCleared || clr == "" {
		t.Fatalf("log %v, clearance %q", m, clr)
	}
	if resp, _ := e.do(t, "GET", sqli, "", "Cookie", clearanceCookie+"="+clr); resp.StatusCode != 200 {
		t.Fatalf("with clearance: %d", resp.StatusCode)
	}
	// A clearance from another secret, or tampered, is worthless.
	exp, _, _ := strings.Cut(clr, ".")
	if resp, _ := e.do(t, "GET", sqli, "", "Cookie", clearanceCookie+"="+exp+".AAAAAAAAAAAAAAAAAAAAAA"); resp.StatusCode != 403 {
		t.Fatalf("forged clearance: %d", resp.StatusCode)
	}
	// Expired: the gate's clock moves past the clearance's lifetime.
	e.gate.now = func() time.Time { return time.Now().Add(ClearanceTTL + time.Minute) }
	if resp, _ := e.do(t, "GET", sqli, "", "Cookie", clearanceCookie+"="+clr); resp.StatusCode != 403 {
		t.Fatalf("expired clearance: %d", resp.StatusCode)
	}
}

func TestIPLists(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFDetect, DenyIPs: []string{"127.0.0.0/8"}})
	resp, _ := e.do(t, "GET", "/", "")
	if m := e.entry(t, resp.Header.Get("X-Request-Id")); resp.StatusCode != 403 || m["waf_action"] != ActBlock {
		t.Fatalf("deny list in detect mode: %d %v", resp.StatusCode, m)
	}
	e2 := newEdge(t, api.WAFPolicy{Mode: api.WAFBlock, AllowIPs: []string{"127.0.0.1", "::1"}})
	resp, _ = e2.do(t, "GET", sqli, "")
	if m := e2.entry(t, resp.Header.Get("X-Request-Id")); resp.StatusCode != 200 || m["waf_action"] != ActAllowlist {
		t.Fatalf("allow list: %d %v", resp.StatusCode, m)
	}
}

func TestBodyLimit(t *testing.T) {
	big := `{"text":"` + strings.Repeat("a", 4000) + `"}`
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFBlock, RequestBodyLimit: 1024})
	resp, _ := e.do(t, "POST", "/api", big, "Content-Type", "application/json")
	if resp.StatusCode != 413 || e.hits.Load() != 0 {
		t.Fatalf("deny: %d, origin hits %d", resp.StatusCode, e.hits.Load())
	}
	// partial: the first KB is inspected, all of it is forwarded.
	e2 := newEdge(t, api.WAFPolicy{Mode: api.WAFBlock, RequestBodyLimit: 1024, BodyOverLimit: api.WAFBodyPartial})
	resp, _ = e2.do(t, "POST", "/api", "q=1' UNION SELECT password FROM users--&pad="+strings.Repeat("b", 2000), "Content-Type", "application/x-www-form-urlencoded")
	if resp.StatusCode != 403 {
		t.Fatalf("attack in the inspected part: %d", resp.StatusCode)
	}
	resp, _ = e2.do(t, "POST", "/api", "pad="+strings.Repeat("b", 2000)+"&q=hello", "Content-Type", "application/x-www-form-urlencoded")
	got, _ := e2.bodies.Load(resp.Header.Get("X-Request-Id"))
	if gb, _ := got.([]byte); resp.StatusCode != 200 || len(gb) != 2012 {
		t.Fatalf("partial: %d, origin got %d bytes", resp.StatusCode, len(gb))
	}
}

func TestCustomRulesAndExclusions(t *testing.T) {
	pol := api.WAFPolicy{
		Mode:        api.WAFBlock,
		CustomRules: []string{`SecRule ARGS:coupon "@streq FREEFOREVER" "id:10001,phase:2,deny,status:403,log,msg:'coupon abuse'"`},
		Exclusions: []api.WAFExclusion{
			{RuleIDs: []int{942100}, PathPrefix: "/sql-console", Args: []string{"query"}},
			{Tags: []string{"attack-sqli"}, PathPrefix: "/admin/", Methods: []string{"POST"}},
		},
	}
	if err := waf.Check(pol); err != nil {
		t.Fatal(err)
	}
	e := newEdge(t, pol)
	resp, _ := e.do(t, "GET", "/checkout?coupon=FREEFOREVER", "")
	if m := e.entry(t, resp.Header.Get("X-Request-Id")); resp.StatusCode != 403 || !hasRule(m, 10001) {
		t.Fatalf("custom rule: %d %v", resp.StatusCode, m)
	}
	libinj := url.QueryEscape("1' OR '1'='1")
	for _, tc := range []struct {
		method, target, body string
		want                 int
	}{
		{"GET", "/sql-console?query=" + libinj, "", 200}, // excluded for this argument here
		{"GET", "/sql-console?other=" + libinj, "", 403}, // not for other arguments
		{"GET", "/elsewhere?query=" + libinj, "", 403},   // nor elsewhere
		{"POST", "/admin/report", "q=" + libinj, 200},    // tag excluded for POST under /admin/
		{"GET", "/admin/report?q=" + libinj, "", 403},    // but not for GET
	} {
		resp, _ := e.do(t, tc.method, tc.target, tc.body, "Content-Type", "application/x-www-form-urlencoded")
		if resp.StatusCode != tc.want {
			m := e.entry(t, resp.Header.Get("X-Request-Id"))
			t.Errorf("%s %s: %d, want %d (rules %v)", tc.method, tc.target, resp.StatusCode, tc.want, m["rule_ids"])
		}
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFBlock})
	const secret = "1'UNION/**/SELECT/**/password/**/FROM/**/users--"
	resp, _ := e.do(t, "GET", "/", "", "Cookie", "sid="+url.QueryEscape(secret), "Authorization", "Basic "+secret)
	if err := e.alog.Flush(); err != nil {
		t.Fatal(err)
	}
	m := e.entry(t, resp.Header.Get("X-Request-Id"))
	if resp.StatusCode != 403 || !strings.Contains(m["matched"].(string), "[redacted]") {
		t.Fatalf("status %d, log %v", resp.StatusCode, m)
	}
	e.buf.mu.Lock()
	defer e.buf.mu.Unlock()
	if strings.Contains(e.buf.b.String(), "password") || strings.Contains(e.buf.b.String(), "UNION") {
		t.Fatalf("a secret reached the log: %s", e.buf.b.String())
	}
}

func TestResponseInspection(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFBlock, InspectResponse: true})
	resp, _ := e.do(t, "GET", "/leak", "")
	if m := e.entry(t, resp.Header.Get("X-Request-Id")); resp.StatusCode != 502 || m["waf_action"] != ActBlock {
		t.Fatalf("leak: %d %v", resp.StatusCode, m)
	}
	if resp, body := e.do(t, "GET", "/fine", ""); resp.StatusCode != 200 || body != `{"ok":true}` {
		t.Fatalf("fine: %d %q", resp.StatusCode, body)
	}
}

// TestPolicySwapUnderLoad changes the site's policy again and again while
// clients keep sending: every request gets an answer from the origin.
func TestRunCompilesNewAndChangedSitesBeforeTheirRequests(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFDetect})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.gate.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// No request is sent until each engine is in place: only Run can
	// have compiled it.
	waitFor := func(h string, p api.WAFPolicy) {
		t.Helper()
		poll.Until(t, h+"'s engine for "+waf.Key(p)+", without a request", func() bool {
			e.gate.mu.Lock()
			he := e.gate.hosts[h]
			e.gate.mu.Unlock()
			return he != nil && he.e != nil && he.site == e.cat.Load().Site(h) && waf.Key(he.e.Policy()) == waf.Key(p)
		})
	}
	block := api.WAFPolicy{Mode: api.WAFBlock}
	e.put(t, block)
	waitFor(host, block)
	// The first attack after the switch to block is blocked.
	hits := e.hits.Load()
	if resp, _ := e.do(t, "GET", sqli, ""); resp.StatusCode != 403 || e.hits.Load() != hits {
		t.Fatalf("first attack after the switch: status %d, origin hits %d -> %d", resp.StatusCode, hits, e.hits.Load())
	}
	// A site added later gets its engine before its first request.
	other, pol := "api.example.com", api.WAFPolicy{Mode: api.WAFBlock, Paranoia: 2}
	raw, err := json.Marshal(api.Site{V: api.Version, Hostname: other, Origins: []api.Origin{{URL: e.origin.URL}},
		HTTPS: api.HTTPSPolicy{HTTP: api.HTTPAllow}, WAF: pol})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cat.Apply(catalog.Change{Kind: catalog.KindSite, Key: other, Value: raw}); err != nil {
		t.Fatal(err)
	}
	waitFor(other, pol)
	waitFor(host, block) // unchanged
}

func TestPolicySwapUnderLoad(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFBlock})
	policies := []api.WAFPolicy{
		{Mode: api.WAFDetect},
		{Mode: api.WAFBlock, Paranoia: 2},
		{Mode: api.WAFBlock, InboundThreshold: 10},
		{Mode: api.WAFOff},
		{Mode: api.WAFBlock},
	}
	var sent, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", e.srv.URL+"/api/orders", strings.NewReader(`{"sku":"W-1001","qty":2,"note":"leave it by the neighbour's door"}`))
				req.Host = host
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("User-Agent", "load")
				req.Header.Set("Accept", "*/*")
				sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
				}
			}
		}()
	}
	for round := range 3 {
		for _, p := range policies {
			e.put(t, p)
			// Wait until the new policy's engine serves (or a deadline).
			want := waf.Key(p)
			deadline := time.Now().Add(10 * time.Second)
			for p.Enabled() && time.Now().Before(deadline) {
				e.gate.mu.Lock()
				he := e.gate.hosts[host]
				e.gate.mu.Unlock()
				if he != nil && he.e != nil && waf.Key(he.e.Policy()) == want {
					break
				}
				_, _ = e.do(t, "GET", "/ping?round="+strconv.Itoa(round), "")
			}
		}
	}
	close(stop)
	wg.Wait()
	client.CloseIdleConnections()
	if failed.Load() > 0 || sent.Load() < 50 {
		t.Fatalf("%d of %d requests failed (first: %v)", failed.Load(), sent.Load(), firstErr.Load())
	}
	t.Logf("%d requests across %d policy swaps, none lost; %d engines cached", sent.Load(), 3*len(policies), engines.Len())
}

func TestUnderAttackChallengesEveryRequest(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{}) // WAF off: the switch works on its own
	s := api.Site{V: api.Version, Hostname: host, Origins: []api.Origin{{URL: e.origin.URL}},
		HTTPS: api.HTTPSPolicy{HTTP: api.HTTPAllow}, UnderAttack: true}
	raw, _ := json.Marshal(s)
	if err := e.cat.Apply(catalog.Change{Kind: catalog.KindSite, Key: host, Value: raw}); err != nil {
		t.Fatal(err)
	}
	resp, body := e.do(t, "GET", "/", "")
	if resp.StatusCode != 403 || !strings.Contains(body, puzzleRE) || e.hits.Load() != 0 {
		t.Fatalf("status %d, origin hits %d", resp.StatusCode, e.hits.Load())
	}
	p := body[strings.Index(body, puzzleRE)+len(puzzleRE):]
	p = p[:strings.IndexByte(p, '"')]
	n := 0
	for !solved(p, strconv.Itoa(n)) {
		n++
	}
	resp, _ = e.do(t, "GET", "/", "", "Cookie", answerCookie+"="+p+"~"+strconv.Itoa(n))
	if resp.StatusCode != 200 {
		t.Fatalf("solved: %d", resp.StatusCode)
	}
	if m := e.entry(t, resp.Header.Get("X-Request-Id")); m["waf_action"] != ActCleared {
		t.Fatalf("log %v", m)
	}
}

// The WAF transaction's id (UNIQUE_ID, what rules and the WAF's own logs
// see) is the request id the access log and the X-Request-Id header carry.
func TestTransactionIDIsRequestID(t *testing.T) {
	e := newEdge(t, api.WAFPolicy{Mode: api.WAFBlock, CustomRules: []string{
		`SecRule UNIQUE_ID "@rx ^[0-9a-f]{32}$" "id:10002,phase:1,deny,status:403,log,msg:'marked'"`,
	}})
	resp, _ := e.do(t, "GET", "/", "")
	id := resp.Header.Get("X-Request-Id")
	m := e.entry(t, id)
	if resp.StatusCode != 403 || !hasRule(m, 10002) {
		t.Fatalf("status %d, log %v", resp.StatusCode, m)
	}
	if matched, _ := m["matched"].(string); id == "" || !strings.Contains(matched, id) {
		t.Fatalf("matched data %q does not name request id %q", matched, id)
	}
}
