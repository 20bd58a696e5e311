package rxdfa

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"runtime"
	"strings"
	"testing"
	"time"
)

func mustDFA(t testing.TB, pattern string, opts Options) (*regexp.Regexp, *DFA) {
	t.Helper()
	re, err := regexp.Compile(pattern)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(parsed, opts)
	if err != nil {
		t.Fatal(err)
	}
	return re, d
}

// check fails t unless d answers as re does on s (or does not answer, when
// s holds a byte outside ASCII or d is full).
func check(t testing.TB, pattern string, re *regexp.Regexp, d *DFA, s string) {
	t.Helper()
	got, ok := d.Match(s)
	if !ok {
		if strings.IndexFunc(s, func(r rune) bool { return r >= 0x80 }) < 0 && !d.Full() {
			t.Fatalf("%q on %q: no answer for ASCII input with budget left", pattern, s)
		}
		return
	}
	if want := re.MatchString(s); got != want {
		t.Fatalf("%q on %q: DFA %v, regexp %v", pattern, s, got, want)
	}
}

func TestCases(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		yes, no []string
	}{
		{`abc`, []string{"abc", "xabcx"}, []string{"", "ab", "acb"}},
		{`^abc`, []string{"abc", "abcx"}, []string{"xabc", "x\nabc"}},
		{`(?m)^abc`, []string{"abc", "x\nabc"}, []string{"xabc"}},
		{`abc$`, []string{"abc", "xabc"}, []string{"abcx", "abc\nx"}},
		{`(?m)abc$`, []string{"abc\nx", "xabc"}, []string{"abcx"}},
		{`\bcat\b`, []string{"cat", "a cat.", "(cat)"}, []string{"cats", "bobcat", "_cat"}},
		{`\Bat\B`, []string{"bats"}, []string{"at", "cat", "at s"}},
		{`(?i)SeLeCt`, []string{"select", "SELECT", "xSelectx"}, []string{"selec t"}},
		{`^$`, []string{""}, []string{"x", "\n"}},
		{`(?m)^$`, []string{"", "x\n", "\n\nx"}, []string{"x"}},
		{`(?s)a.b`, []string{"a\nb", "axb"}, []string{"ab"}},
		{`a.b`, []string{"axb"}, []string{"a\nb"}},
		{`x*`, []string{"", "y"}, nil},
		{`\b`, []string{"a", " a"}, []string{"", " ", "++"}},
		{`a{2,4}b`, []string{"aab", "aaaab", "xaaaaab"}, []string{"ab", "a b"}},
		{`[^a-c]+z`, []string{"dz", "az z"}, []string{"az", "z"}},
		{`é|x`, []string{"x"}, []string{"y"}},
	} {
		re, d := mustDFA(t, tc.pattern, Options{})
		for _, s := range tc.yes {
			if m, ok := d.Match(s); !ok || !m {
				t.Errorf("%q on %q: %v, %v; want a match", tc.pattern, s, m, ok)
			}
			check(t, tc.pattern, re, d, s)
		}
		for _, s := range tc.no {
			if m, ok := d.Match(s); !ok || m {
				t.Errorf("%q on %q: %v, %v; want no match", tc.pattern, s, m, ok)
			}
			check(t, tc.pattern, re, d, s)
		}
	}
	_, d := mustDFA(t, `é|x`, Options{})
	if _, ok := d.Match("é"); ok {
		t.Error("answered for input outside ASCII")
	}
}

// randomPattern builds a random expression over a small alphabet, with
// the anchors, word boundaries, classes, repeats and flags the CRS uses.
func randomPattern(rnd *rand.Rand, depth int) string {
	atoms := []string{"a", "b", "c", "A", " ", "\\n", ".", "[ab]", "[^a]", "\\w", "\\W", "\\s", "\\d", "[a-c\\n]", "x"}
	if depth <= 0 {
		return atoms[rnd.IntN(len(atoms))]
	}
	switch rnd.IntN(10) {
	case 0, 1:
		return randomPattern(rnd, depth-1) + randomPattern(rnd, depth-1)
	case 2:
		return "(?:" + randomPattern(rnd, depth-1) + "|" + randomPattern(rnd, depth-1) + ")"
	case 3:
		return "(?:" + randomPattern(rnd, depth-1) + ")" + []string{"*", "+", "?", "{2}", "{1,3}", "*?"}[rnd.IntN(6)]
	case 4:
		return []string{"^", "$", "\\b", "\\B", "\\A", "\\z"}[rnd.IntN(6)] + randomPattern(rnd, depth-1)
	case 5:
		return randomPattern(rnd, depth-1) + []string{"^", "$", "\\b", "\\B", "\\z"}[rnd.IntN(5)]
	case 6:
		return "(?i:" + randomPattern(rnd, depth-1) + ")"
	case 7:
		return "(" + randomPattern(rnd, depth-1) + ")"
	default:
		return atoms[rnd.IntN(len(atoms))]
	}
}

func randomInput(rnd *rand.Rand) string {
	const alphabet = "abcABx _\n1-"
	b := make([]byte, rnd.IntN(12))
	for i := range b {
		b[i] = alphabet[rnd.IntN(len(alphabet))]
	}
	return string(b)
}

// TestRandom is the differential test: random expressions, in each mode
// Coraza may compile them with, against random inputs.
func TestRandom(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	matches := 0
	for i := range 3000 {
		pattern := []string{"", "(?s)", "(?m)", "(?sm)", "(?i)"}[i%5] + randomPattern(rnd, 4)
		if _, err := syntax.Parse(pattern, syntax.Perl); err != nil {
			continue
		}
		re, d := mustDFA(t, pattern, Options{})
		for range 60 {
			s := randomInput(rnd)
			if re.MatchString(s) {
				matches++
			}
			check(t, pattern, re, d, s)
		}
	}
	if matches < 10000 {
		t.Fatalf("only %d matches: the inputs say too little", matches)
	}
}

// inputsABC are random strings over a, b and c: a[ab]{6}c needs a state
// for most of the combinations they go through.
func inputsABC(n int, seed uint64) []string {
	rnd := rand.New(rand.NewPCG(seed, 4))
	out := make([]string, n)
	for i := range out {
		b := make([]byte, 12)
		for j := range b {
			b[j] = "abc"[rnd.IntN(3)]
		}
		out[i] = string(b)
	}
	return out
}

// A DFA whose budget is spent stops answering for inputs needing new
// states, and keeps answering, rightly, for those it has.
func TestBudget(t *testing.T) {
	pattern := `a[ab]{6}c`
	re, d := mustDFA(t, pattern, Options{Budget: 4000, ResetAfter: -1})
	unanswered := 0
	for _, s := range inputsABC(2000, 3) {
		if _, ok := d.Match(s); !ok {
			unanswered++
		}
		check(t, pattern, re, d, s)
	}
	n, bytes, resets := d.Stats()
	if !d.Full() || unanswered == 0 || bytes > 4000 || resets != 0 {
		t.Fatalf("budget 4000: full %v, %d unanswered, %d states in %d bytes, %d resets", d.Full(), unanswered, n, bytes, resets)
	}
	if m, ok := d.Match(""); !ok || m {
		t.Fatalf("empty input: %v, %v", m, ok)
	}
	t.Logf("%d states in %d bytes; %d of 2000 inputs unanswered", n, bytes, unanswered)
}

// A full DFA drops its states once ResetAfter has passed since it filled,
// and answers again, rightly, with the new ones.
func TestReset(t *testing.T) {
	pattern := `a[ab]{6}c`
	re, d := mustDFA(t, pattern, Options{Budget: 4000, ResetAfter: time.Nanosecond})
	inputs := inputsABC(2000, 5)
	for _, s := range inputs {
		check(t, pattern, re, d, s)
	}
	_, bytes, resets := d.Stats()
	if resets == 0 || bytes > 4000 {
		t.Fatalf("no reset (%d) or over budget (%d bytes)", resets, bytes)
	}
	// Once full, inputs wait for the reset: none is answered within an
	// hour, and the DFA stays full.
	_, d = mustDFA(t, pattern, Options{Budget: 4000, ResetAfter: time.Hour})
	unanswered := 0
	for _, s := range inputs {
		if _, ok := d.Match(s); !ok {
			unanswered++
		}
	}
	if _, _, resets := d.Stats(); resets != 0 || unanswered == 0 {
		t.Fatalf("ResetAfter an hour: %d resets, %d unanswered", resets, unanswered)
	}
	t.Logf("%d resets over 2000 inputs", resets)
}

func TestConcurrent(t *testing.T) {
	pattern := `(?i)\b(?:select|union|sleep)\b.{0,8}(?:from|all|\()`
	re, d := mustDFA(t, pattern, Options{})
	inputs := make([]string, 500)
	rnd := rand.New(rand.NewPCG(5, 6))
	words := []string{"select", "UNION", "all", "from", "(", " ", "x", "sleep", "_", "\n"}
	for i := range inputs {
		var b strings.Builder
		for range rnd.IntN(8) {
			b.WriteString(words[rnd.IntN(len(words))])
		}
		inputs[i] = b.String()
	}
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for i := range inputs {
				s := inputs[(i*7+g*13)%len(inputs)]
				if m, ok := d.Match(s); !ok || m != re.MatchString(s) {
					done <- fmt.Errorf("%q: %v, %v", s, m, ok)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// DFAs sharing a budget hold no more than it together: one that has
// filled it leaves the others unanswered until it drops its states, and a
// DFA no longer referenced gives its states back.
func TestSharedBudget(t *testing.T) {
	pattern := `a[ab]{6}c`
	shared := NewBudget(6000)
	re, a := mustDFA(t, pattern, Options{Budget: 1 << 20, ResetAfter: time.Hour, Shared: shared})
	inputs := inputsABC(2000, 7)
	for _, s := range inputs {
		check(t, pattern, re, a, s)
	}
	if used := shared.Used(); used > 6000 || used < 5000 || !a.Full() {
		t.Fatalf("after filling: %d bytes used of 6000, full %v", used, a.Full())
	}
	_, b := mustDFA(t, `x[yz]{6}w`, Options{Budget: 1 << 20, ResetAfter: time.Hour, Shared: shared})
	if _, ok := b.Match("xyzyzyzw"); ok {
		t.Fatal("a second DFA built states beyond the shared budget (beyond its start state)")
	}
	_, bytesA, _ := a.Stats()
	a, b = nil, nil
	deadline := time.Now().Add(10 * time.Second)
	for shared.Used() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d bytes still held after the DFAs (%d bytes) were dropped", shared.Used(), bytesA)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
