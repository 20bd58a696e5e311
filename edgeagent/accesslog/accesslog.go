// Package accesslog writes one JSON line per request. A request appends its
// line to a buffer in memory; a writer goroutine (Run) writes the buffer out
// when it holds 64 KiB and every interval, so a request never waits on the
// log's disk. If the disk falls so far behind that 4 MiB are waiting, lines
// are dropped and counted rather than stalling requests: the count is in
// Lost and in a line of its own once writing resumes. Lines are encoded
// by hand: on a proxy doing tens of thousands of requests per second,
// log/slog's generic encoder cost about a tenth of the CPU. The keys are
// stable (dashboards and incident queries use them).
package accesslog

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Entry is one request's record.
type Entry struct {
	Time       time.Time
	ReqID      string
	Site       string
	Method     string
	Path       string
	Proto      string
	TLSVersion string
	TLSCipher  string
	// Query is the raw query string with sensitive parameters' values
	// replaced (see RedactQuery).
	Query          string
	ClientIP       string
	Status         int
	UpstreamStatus int
	Action         string
	Origin         string
	BytesIn        int64
	BytesOut       int64
	Duration       time.Duration
	OriginDuration time.Duration
	Err            string
	// RateLimitRule names the rule that refused the request (action
	// rate_limited); written when set.
	RateLimitRule string
	// Cache is the cache's outcome: hit, stale, revalidated, miss, bypass or
	// uncacheable; written when set.
	Cache string
	// ClientAddr is ClientIP parsed, and ForwardedFor the X-Forwarded-For
	// chain sent to the origin (see realip). The request path carries them
	// here; they are not written.
	ClientAddr   netip.Addr
	ForwardedFor string
	// WAF fields, written when WAFAction is set: the decision, the rules
	// that matched, the anomaly score and a truncated, redacted excerpt of
	// the matched data.
	WAFAction    string
	RuleIDs      []int
	AnomalyScore int
	WAFMatched   string
}

// Logger writes entries as JSON lines.
type Logger struct {
	region, node string
	pool         sync.Pool

	mu      sync.Mutex // guards the fields below it
	cur     []byte     // lines not yet taken by the writer
	dropped uint64     // lines lost since the last line written
	lost    uint64     // lines dropped or failed to write, in all

	kick chan struct{} // wakes the writer: cur holds flushAt bytes

	wmu   sync.Mutex // one write to out at a time; guards the fields below it
	out   io.Writer
	spare []byte // the buffer the last write emptied
}

const (
	// flushAt is how much the writer is woken for before its interval.
	flushAt = 64 << 10
	// maxPending bounds the lines waiting for the writer: past it, a
	// line is dropped rather than held.
	maxPending = 4 << 20
)

// New returns a logger writing to out; region and node are added to every
// line. Run must run for lines to be written (or Flush be called).
func New(out io.Writer, region, node string) *Logger {
	l := &Logger{out: out, region: region, node: node, kick: make(chan struct{}, 1),
		cur: make([]byte, 0, flushAt+flushAt/4), spare: make([]byte, 0, flushAt+flushAt/4)}
	l.pool.New = func() any { b := make([]byte, 0, 1024); return &b }
	return l
}

// Log adds e's line. It does not wait for the disk: past maxPending bytes
// waiting, the line is dropped and counted.
func (l *Logger) Log(e *Entry) {
	bp := l.pool.Get().(*[]byte)
	b := AppendJSON((*bp)[:0], e, l.region, l.node)
	l.mu.Lock()
	switch {
	case len(l.cur)+len(b) > maxPending:
		l.dropped++
		l.lost++
	default:
		l.cur = append(l.cur, b...)
		if len(l.cur) >= flushAt {
			// A wake-up already pending (the channel is full) is enough.
			select {
			case l.kick <- struct{}{}:
			default:
			}
		}
	}
	l.mu.Unlock()
	*bp = b
	l.pool.Put(bp)
}

// Lost returns how many lines were lost: dropped while the writer was
// behind, or in a write that failed.
func (l *Logger) Lost() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// AppendJSON appends e as one JSON line.
func AppendJSON(b []byte, e *Entry, region, node string) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = appendStr(b, `","req_id":`, e.ReqID)
	b = appendStr(b, `,"site":`, e.Site)
	b = appendStr(b, `,"method":`, e.Method)
	b = appendStr(b, `,"path":`, e.Path)
	b = appendStr(b, `,"proto":`, e.Proto)
	b = appendStr(b, `,"tls":`, e.TLSVersion)
	if e.TLSCipher != "" {
		b = appendStr(b, `,"tls_cipher":`, e.TLSCipher)
	}
	if e.Query != "" {
		b = appendStr(b, `,"query":`, e.Query)
	}
	b = appendStr(b, `,"client_ip":`, e.ClientIP)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"upstream_status":`...)
	b = strconv.AppendInt(b, int64(e.UpstreamStatus), 10)
	b = appendStr(b, `,"action":`, e.Action)
	b = appendStr(b, `,"origin":`, e.Origin)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, e.BytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, e.BytesOut, 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(e.Duration.Microseconds())/1000, 'f', -1, 64)
	b = append(b, `,"origin_ms":`...)
	b = strconv.AppendFloat(b, float64(e.OriginDuration.Microseconds())/1000, 'f', -1, 64)
	b = appendStr(b, `,"region":`, region)
	b = appendStr(b, `,"node":`, node)
	if e.WAFAction != "" {
		b = appendStr(b, `,"waf_action":`, e.WAFAction)
		b = append(b, `,"rule_ids":[`...)
		for i, id := range e.RuleIDs {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(id), 10)
		}
		b = append(b, `],"anomaly_score":`...)
		b = strconv.AppendInt(b, int64(e.AnomalyScore), 10)
		if e.WAFMatched != "" {
			b = appendStr(b, `,"matched":`, e.WAFMatched)
		}
	}
	if e.Cache != "" {
		b = appendStr(b, `,"cache":`, e.Cache)
	}
	if e.RateLimitRule != "" {
		b = appendStr(b, `,"rate_limit_rule":`, e.RateLimitRule)
	}
	if e.Err != "" {
		b = appendStr(b, `,"error":`, e.Err)
	}
	return append(b, "}\n"...)
}

const hexDigits = "0123456789abcdef"

// appendStr appends key (already JSON) and s as a JSON string, escaping
// quotes, backslashes, control characters and invalid UTF-8, and the HTML
// characters <, > and & so a line is safe to show in a page.
// plainJSON marks the ASCII bytes a JSON string carries as they are
// (encoding/json's HTML-safe set).
var plainJSON = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

func appendStr(b []byte, key, s string) []byte {
	b = append(b, key...)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plainJSON[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// DefaultRedactParams are the query parameters whose values are not logged
// unless configured otherwise.
func DefaultRedactParams() []string {
	return []string{"token", "access_token", "id_token", "refresh_token", "code", "password", "passwd", "pass",
		"secret", "client_secret", "api_key", "apikey", "key", "sig", "signature", "auth", "session", "sessionid", "jwt"}
}

// maxQuery bounds the query kept in a line.
const maxQuery = 2048

// RedactQuery returns the raw query with the values of the named
// parameters (compared case-insensitively, as sent) replaced by
// "REDACTED", cut at 2 KiB. A query with nothing to redact is returned as
// it is, without allocating.
func RedactQuery(raw string, names []string) string {
	if raw == "" {
		return ""
	}
	if len(raw) > maxQuery {
		raw = raw[:maxQuery]
	}
	var out []byte
	for i := 0; i < len(raw); {
		end := strings.IndexByte(raw[i:], '&')
		if end < 0 {
			end = len(raw)
		} else {
			end += i
		}
		pair := raw[i:end]
		name, _, hasValue := strings.Cut(pair, "=")
		redact := false
		if hasValue {
			for _, n := range names {
				if strings.EqualFold(name, n) {
					redact = true
					break
				}
			}
		}
		if redact && out == nil {
			out = append(make([]byte, 0, len(raw)+16), raw[:i]...)
		}
		if out != nil {
			if redact {
				out = append(append(out, name...), "=REDACTED"...)
			} else {
				out = append(out, pair...)
			}
			if end < len(raw) {
				out = append(out, '&')
			}
		}
		i = end + 1
	}
	if out == nil {
		return raw
	}
	return string(out)
}

// Flush writes the lines logged so far and returns the error of the write,
// if it failed (those lines are counted in Lost).
func (l *Logger) Flush() error {
	_, err := l.flush()
	return err
}

// flush is Flush; wrote says whether there was anything to write.
func (l *Logger) flush() (wrote bool, err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	b, dropped := l.cur, l.dropped
	l.cur, l.dropped = l.spare, 0
	l.mu.Unlock()
	if dropped > 0 {
		b = appendDropped(b, dropped, l.region, l.node)
	}
	if len(b) > 0 {
		if _, err = l.out.Write(b); err != nil {
			n := uint64(bytes.Count(b, []byte{'\n'}))
			if dropped > 0 {
				n-- // the report: its lines are counted already
			}
			// The next line written reports these lines and the
			// drops this write failed to report.
			l.mu.Lock()
			l.lost += n
			l.dropped += dropped + n
			l.mu.Unlock()
		}
	}
	wrote = len(b) > 0
	if cap(b) > 2*flushAt {
		// A burst grew it; do not hold the memory for good.
		b = make([]byte, 0, flushAt+flushAt/4)
	}
	l.spare = b[:0]
	return wrote, err
}

// appendDropped appends the line that says how many lines were dropped
// before it.
func appendDropped(b []byte, n uint64, region, node string) []byte {
	b = append(b, `{"time":"`...)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","dropped_lines":`...)
	b = strconv.AppendUint(b, n, 10)
	b = appendStr(b, `,"region":`, region)
	b = appendStr(b, `,"node":`, node)
	return append(b, "}\n"...)
}

// Run writes the lines out whenever 64 KiB are waiting and every interval,
// until ctx is done; then it writes once more. failed, if not nil, is told
// of each write that fails after one that did not.
func (l *Logger) Run(ctx context.Context, interval time.Duration, failed func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		select {
		case <-ctx.Done():
			l.Flush()
			return
		case <-t.C:
		case <-l.kick:
		}
		wrote, err := l.flush()
		if !wrote {
			continue
		}
		if err != nil && last == nil && failed != nil {
			failed(err)
		}
		last = err
	}
}
