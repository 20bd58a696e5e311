package wafgate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"html"
	"io"
	"math/bits"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-edge/rampart/edgeagent/accesslog"
)

// The challenge: the page carries a signed puzzle; its script finds a
// counter whose SHA-256 with the puzzle starts with Difficulty zero bits and
// stores puzzle and counter in a cookie. The edge checks the answer and
// trades it for a clearance cookie bound to the site, the client address
// and an expiry, signed with the gate's secret. A client that runs no
// JavaScript never answers and stays challenged.
const (
	// Difficulty is the number of leading zero bits asked for: ~16k hashes,
	// well under a second in a browser.
	Difficulty = 14
	// PuzzleTTL is how long a puzzle can be answered.
	PuzzleTTL = 5 * time.Minute
	// ClearanceTTL is how long a solved challenge clears the client.
	ClearanceTTL = 30 * time.Minute

	answerCookie    = "__rampart_pow"
	clearanceCookie = "__rampart_clr"
)

// mac signs the parts with the gate's secret.
func (g *Gate) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, g.cfg.Secret)
	for _, p := range parts {
		io.WriteString(m, p)
		m.Write([]byte{0})
	}
	return m.Sum(nil)[:16]
}

var b64 = base64.RawURLEncoding

// puzzle returns a fresh puzzle for the client: "<expiry>.<nonce>.<mac>".
func (g *Gate) puzzle(site, ip string) string {
	exp := strconv.FormatInt(g.now().Add(PuzzleTTL).Unix(), 10)
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(g.now().UnixNano()))
	nonce := b64.EncodeToString(n[:])
	return exp + "." + nonce + "." + b64.EncodeToString(g.mac("puzzle", site, ip, exp, nonce))
}

// validPuzzle checks the puzzle's signature and expiry.
func (g *Gate) validPuzzle(p, site, ip string) bool {
	exp, rest, ok := strings.Cut(p, ".")
	if !ok {
		return false
	}
	nonce, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return false
	}
	return g.validSig(sig, exp, "puzzle", site, ip, exp, nonce)
}

func (g *Gate) validSig(sig, exp string, parts ...string) bool {
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || g.now().Unix() > t {
		return false
	}
	got, err := b64.DecodeString(sig)
	return err == nil && hmac.Equal(got, g.mac(parts...))
}

// solved reports whether counter answers puzzle.
func solved(puzzle, counter string) bool {
	sum := sha256.Sum256([]byte(puzzle + ":" + counter))
	return bits.LeadingZeros64(binary.BigEndian.Uint64(sum[:8])) >= Difficulty
}

// clearance returns a clearance token: "<expiry>.<mac>".
func (g *Gate) clearance(site, ip string) string {
	exp := strconv.FormatInt(g.now().Add(ClearanceTTL).Unix(), 10)
	return exp + "." + b64.EncodeToString(g.mac("clear", site, ip, exp))
}

// cleared reports whether the client holds a clearance, or has just
// answered a puzzle (then it gets its clearance cookie with the response).
func (g *Gate) cleared(w http.ResponseWriter, r *http.Request, e *accesslog.Entry) bool {
	if c, err := r.Cookie(clearanceCookie); err == nil {
		if exp, sig, ok := strings.Cut(c.Value, "."); ok && g.validSig(sig, exp, "clear", e.Site, e.ClientIP, exp) {
			return true
		}
	}
	c, err := r.Cookie(answerCookie)
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(c.Value, '~')
	if i < 0 {
		return false
	}
	p, counter := c.Value[:i], c.Value[i+1:]
	if len(counter) > 20 || !g.validPuzzle(p, e.Site, e.ClientIP) || !solved(p, counter) {
		return false
	}
	http.SetCookie(w, &http.Cookie{
		Name: clearanceCookie, Value: g.clearance(e.Site, e.ClientIP), Path: "/",
		MaxAge: int(ClearanceTTL / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	})
	http.SetCookie(w, &http.Cookie{Name: answerCookie, Value: "", Path: "/", MaxAge: -1})
	return true
}

// challenge writes the challenge page.
func (g *Gate) challenge(w http.ResponseWriter, r *http.Request, e *accesslog.Entry) {
	secure := ""
	if r.TLS != nil {
		secure = "; Secure"
	}
	page := strings.NewReplacer(
		"{{PUZZLE}}", g.puzzle(e.Site, e.ClientIP),
		"{{BITS}}", strconv.Itoa(Difficulty),
		"{{COOKIE}}", answerCookie,
		"{{SECURE}}", secure,
		"{{REQID}}", html.EscapeString(e.ReqID),
	).Replace(challengePage)
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Request-ID", e.ReqID)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
	w.WriteHeader(e.Status)
	n, _ := io.WriteString(w, page)
	e.BytesOut = int64(n)
}

// challengePage solves the puzzle with WebCrypto and reloads.
const challengePage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Checking your browser</title>
<style>body{font:16px system-ui,sans-serif;max-width:36em;margin:4em auto;color:#222}</style></head>
<body><h1>Checking your browser</h1>
<p>This site asks your browser to solve a small puzzle before it continues. It needs JavaScript and takes a moment.</p>
<noscript><p><strong>Please enable JavaScript to continue.</strong></p></noscript>
<p><small>request id: {{REQID}}</small></p>
<script>
(async () => {
  const puzzle = "{{PUZZLE}}", need = {{BITS}}, enc = new TextEncoder();
  for (let n = 0; ; n++) {
    const d = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(puzzle + ":" + n)));
    let z = 0;
    for (const b of d) { if (b === 0) { z += 8; continue; } z += Math.clz32(b) - 24; break; }
    if (z >= need) {
      document.cookie = "{{COOKIE}}=" + puzzle + "~" + n + "; path=/; max-age=300; SameSite=Lax{{SECURE}}";
      location.reload();
      return;
    }
  }
})();
</script></body></html>
`
