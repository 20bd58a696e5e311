package waf

import (
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

// Reasons a request or response was judged.
const (
	ReasonRules     = "rules"      // rule matches (anomaly score or a disruptive custom rule)
	ReasonIPDeny    = "ip_deny"    // the client is on the deny list
	ReasonIPAllow   = "ip_allow"   // the client is on the allow list: not inspected
	ReasonBodyLimit = "body_limit" // the body is over the limit and the policy denies that
)

// Limits on what a Result carries into the access log.
const (
	maxLoggedRules   = 16
	maxMatchedValue  = 48
	maxMatchedLogged = 256
)

// Result is the verdict on a request or a response.
type Result struct {
	// Reject means the policy rejects it. In detect mode Enforce is false
	// and the edge only logs what it would have done.
	Reject  bool
	Enforce bool
	// Status is what the rule asked for (403 unless a rule said otherwise).
	Status int
	Reason string
	// RuleIDs are the rules that matched and log, in evaluation order.
	RuleIDs []int
	// Score is the CRS anomaly score (inbound for requests, outbound for responses).
	Score int
	// Matched is a short, truncated account of the matched data with
	// cookie and authorization values redacted.
	Matched string
}

// Tx is one request's inspection; Close it when the request is done.
type Tx struct {
	e  *Engine
	tx types.Transaction
	// body holds the response body InspectResponse read (from bodyPool);
	// the replay reads it until Close.
	body *[]byte
}

// InspectRequest judges r before it is forwarded. client is the client's
// address. The body, when inspected, is read up to the policy's limit and
// r.Body is replaced so the request can still be forwarded in full. The
// returned Tx is nil when no rules ran (mode off, allow-listed client).
func (e *Engine) InspectRequest(r *http.Request, client netip.Addr) (*Tx, Result) {
	return e.InspectRequestID(r, client, "")
}

// InspectRequestID is InspectRequest with the transaction's id (the rules'
// UNIQUE_ID) given: the edge passes its request id, so the WAF's logs and
// the access log name a request alike. An empty id gets a random one.
func (e *Engine) InspectRequestID(r *http.Request, client netip.Addr, id string) (*Tx, Result) {
	p := &e.policy
	res := Result{Enforce: p.Mode == api.WAFBlock}
	if !p.Enabled() {
		return nil, res
	}
	client = client.Unmap()
	for _, d := range e.deny {
		if d.Contains(client) {
			res.Reject, res.Reason, res.Status = true, ReasonIPDeny, http.StatusForbidden
			return nil, res
		}
	}
	for _, a := range e.allow {
		if a.Contains(client) {
			res.Reason = ReasonIPAllow
			return nil, res
		}
	}

	var tx types.Transaction
	if id != "" {
		tx = e.waf.NewTransactionWithID(id)
	} else {
		tx = e.waf.NewTransaction()
	}
	t := &Tx{e: e, tx: tx}
	tx.ProcessConnection(client.String(), 0, "", 0)
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	tx.ProcessURI(uri, r.Method, r.Proto)
	for k, vv := range r.Header {
		for _, v := range vv {
			tx.AddRequestHeader(k, v)
		}
	}
	if r.Host != "" {
		tx.AddRequestHeader("Host", r.Host)
		tx.SetServerName(r.Host)
	}
	for _, te := range r.TransferEncoding {
		tx.AddRequestHeader("Transfer-Encoding", te)
	}
	if it := tx.ProcessRequestHeaders(); it != nil {
		return t, t.result(res, it, false)
	}
	if r.Body != nil && r.Body != http.NoBody && tx.IsRequestBodyAccessible() {
		limit := p.RequestBodyLimit
		read, err := readAll(io.LimitReader(r.Body, limit+1), r.ContentLength, limit+1, nil)
		buf := read
		over := int64(len(read)) > limit
		if over {
			buf = read[:limit]
		}
		// The origin still gets every byte: what was read, then the rest.
		r.Body = &replayBody{b: read, rest: r.Body}
		if err != nil {
			// A client that stops sending mid-body: inspect what came, the
			// forward will fail on the same error.
			over = false
		}
		if over && p.BodyOverLimit == api.WAFBodyDeny {
			res.Reject, res.Reason, res.Status = true, ReasonBodyLimit, http.StatusRequestEntityTooLarge
			return t, res
		}
		if it, _, err := tx.WriteRequestBody(buf); it != nil || err != nil {
			return t, t.result(res, it, false)
		}
	}
	it, _ := tx.ProcessRequestBody()
	return t, t.result(res, it, false)
}

// replayBody forwards the inspected bytes then the rest of the body.
type replayBody struct {
	b    []byte
	rest io.ReadCloser
}

func (r *replayBody) Read(p []byte) (int, error) {
	if len(r.b) > 0 {
		n := copy(p, r.b)
		r.b = r.b[n:]
		return n, nil
	}
	return r.rest.Read(p)
}

func (r *replayBody) Close() error { return r.rest.Close() }

// readAll is io.ReadAll into b's array from its start (b may be nil; what
// it held is overwritten), with room for size bytes (a Content-Length, -1
// when unknown; ignored from limit on, what r is limited to) from the
// start: a 1 KB body is read into one buffer rather than three, a 4 KB one
// into one rather than seven.
func readAll(r io.Reader, size, limit int64, b []byte) ([]byte, error) {
	c := 512
	if size > 0 && size < limit {
		c = int(size) + 1 // the last read finds EOF without growing b
	}
	if cap(b) < c {
		b = make([]byte, 0, c)
	}
	b = b[:0]
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// InspectsResponse reports whether the origin's response should go through
// InspectResponse.
func (t *Tx) InspectsResponse() bool { return t != nil && t.e.policy.InspectResponse }

// InspectResponse judges the origin's response before the client sees it.
// A text body (text/plain, text/html, text/xml) is read up to
// ResponseBodyLimit and resp.Body replaced so it can still be sent in full;
// the replacement reads a buffer the Tx holds, so it must be read before
// Close.
func (t *Tx) InspectResponse(resp *http.Response) Result {
	res := Result{Enforce: t.e.policy.Mode == api.WAFBlock}
	tx := t.tx
	for k, vv := range resp.Header {
		for _, v := range vv {
			tx.AddResponseHeader(k, v)
		}
	}
	if it := tx.ProcessResponseHeaders(resp.StatusCode, resp.Proto); it != nil {
		return t.result(res, it, true)
	}
	if resp.Body != nil && resp.Body != http.NoBody && tx.IsResponseBodyAccessible() && tx.IsResponseBodyProcessable() {
		if t.body == nil {
			t.body = bodyPool.Get().(*[]byte)
		}
		buf, err := readAll(io.LimitReader(resp.Body, ResponseBodyLimit), resp.ContentLength, ResponseBodyLimit, *t.body)
		*t.body = buf
		resp.Body = &replayBody{b: buf, rest: resp.Body}
		if err == nil {
			if it, _, err := tx.WriteResponseBody(buf); it != nil || err != nil {
				return t.result(res, it, true)
			}
		}
	}
	it, _ := tx.ProcessResponseBody()
	return t.result(res, it, true)
}

// Close releases the transaction. It runs the logging phase (phase 5)
// only for an engine with a match log: that phase cannot change a verdict
// (the response is on its way), Rampart's engines write no audit log, and
// its rule matches are read by nothing else. The CRS spends it on
// correlation reports (RESPONSE-980).
func (t *Tx) Close() {
	if t == nil {
		return
	}
	if t.e.logPhase {
		t.tx.ProcessLogging()
	}
	t.tx.Close()
	if b := t.body; b != nil {
		t.body = nil
		if cap(*b) <= maxPooledBody {
			bodyPool.Put(b) // readAll reads from its start
		}
	}
}

// bodyPool holds the buffers InspectResponse reads bodies into, of up to
// maxPooledBody bytes: a response's buffer is back in the pool once its
// Tx is closed, the body sent.
var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledBody = 64 << 10

// detectionOnly is what Coraza's transaction offers beyond types.Transaction
// to tell what DetectionOnly mode would have done.
type detectionOnly interface {
	DetectionOnlyInterruption() *types.Interruption
}

func (t *Tx) result(res Result, it *types.Interruption, response bool) Result {
	tx := t.tx
	if it == nil && !res.Enforce {
		if d, ok := tx.(detectionOnly); ok {
			it = d.DetectionOnlyInterruption()
		}
	}
	if it != nil && it.Action != "allow" {
		res.Reject, res.Reason = true, ReasonRules
		res.Status = it.Status
		if res.Status == 0 {
			res.Status = http.StatusForbidden
		}
	}
	if st, ok := tx.(plugintypes.TransactionState); ok {
		key := "blocking_inbound_anomaly_score"
		if response {
			key = "blocking_outbound_anomaly_score"
		}
		if v := st.Variables().TX().Get(key); len(v) > 0 {
			res.Score, _ = strconv.Atoi(v[0])
		}
	}
	var matched strings.Builder
	for _, mr := range tx.MatchedRules() {
		id := mr.Rule().ID()
		// Rules without a message and the CRS's initialisation are
		// bookkeeping, unless one of them is what interrupted.
		bookkeeping := mr.Message() == "" || (id >= 900000 && id < 902000)
		if id == 0 || len(res.RuleIDs) >= maxLoggedRules || (bookkeeping && (it == nil || it.RuleID != id)) {
			continue
		}
		res.RuleIDs = append(res.RuleIDs, id)
		if matched.Len() >= maxMatchedLogged {
			continue
		}
		for _, md := range mr.MatchedDatas() {
			if md.Variable() == variables.TX {
				continue // the scoring bookkeeping, not the request
			}
			if matched.Len() > 0 {
				matched.WriteString(" ")
			}
			matched.WriteString(strconv.Itoa(id))
			matched.WriteString(":")
			matched.WriteString(md.Variable().Name())
			if k := md.Key(); k != "" {
				matched.WriteString(":")
				matched.WriteString(truncate(k, maxMatchedValue))
			}
			matched.WriteString("=")
			matched.WriteString(truncate(redact(md.Variable(), md.Key(), md.Value()), maxMatchedValue))
			break
		}
	}
	res.Matched = truncate(matched.String(), maxMatchedLogged)
	return res
}

// redact hides the values of cookies and credentials: they must never
// reach a log line, even when a rule matched on them.
func redact(v variables.RuleVariable, key, value string) string {
	switch v {
	case variables.RequestCookies, variables.ResponseHeaders:
		if v == variables.RequestCookies || strings.EqualFold(key, "set-cookie") {
			return "[redacted]"
		}
	case variables.RequestHeaders:
		switch strings.ToLower(key) {
		case "authorization", "proxy-authorization", "cookie", "x-api-key":
			return "[redacted]"
		}
	}
	return value
}

// truncate cuts s to at most n bytes, on a UTF-8 boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
