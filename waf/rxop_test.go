package waf

import (
	"flag"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"testing"

	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"
	"github.com/corazawaf/coraza/v3/experimental/plugins"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"

	"rsc.io/binaryregexp"
	bsyntax "rsc.io/binaryregexp/syntax"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/waf/internal/rxprefilter"
	"github.com/rampart-edge/rampart/waf/internal/rxprefilter/rxgen"
)

var crsFull = flag.Bool("crs-full", false, "prefilter soundness: every CRS pattern against the whole corpus (minutes), not a sample")

// crsPatterns compiles the CRS at paranoia level 4 with response
// inspection and returns every @rx argument Coraza hands to the operator.
func crsPatterns(t testing.TB) []string {
	t.Helper()
	registerOperators()
	var mu sync.Mutex
	seen := map[string]bool{}
	plugins.RegisterOperator("rx", func(o plugintypes.OperatorOptions) (plugintypes.Operator, error) {
		mu.Lock()
		seen[o.Arguments] = true
		mu.Unlock()
		return newRx(o)
	})
	defer plugins.RegisterOperator("rx", newRx)
	if _, err := Compile(api.WAFPolicy{Mode: api.WAFDetect, Paranoia: 4, InspectResponse: true}, Options{}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// corpus gathers inputs: every scalar of the CRS regression tests (the
// go-ftw payloads), raw, URL-decoded and split into arguments; Rampart's
// benign corpus; and random mutations of both.
func corpus(t testing.TB) []string {
	t.Helper()
	set := map[string]bool{}
	add := func(s string) {
		if s != "" && len(s) < 8192 {
			set[s] = true
		}
	}
	addAll := func(s string) {
		add(s)
		add(strings.ToLower(s))
		for _, d := range []func(string) (string, error){url.QueryUnescape, url.PathUnescape} {
			if u, err := d(s); err == nil && u != s {
				add(u)
				add(strings.ToLower(u))
				s = u
			}
		}
		for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '&' || r == '?' || r == ';' }) {
			add(part)
			if _, v, ok := strings.Cut(part, "="); ok {
				add(v)
			}
		}
	}
	err := fs.WalkDir(crstests.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := fs.ReadFile(crstests.FS, path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "- "))
			_, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
				v = v[1 : len(v)-1]
				v = strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\n`, "\n", `\r`, "\r", `\t`, "\t").Replace(v)
			}
			addAll(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	benign, _ := filepath.Glob("../edgeagent/wafgate/testdata/benign/*")
	for _, f := range benign {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		add(string(data))
		for _, line := range strings.Split(string(data), "\n") {
			addAll(strings.TrimSpace(line))
			if _, v, ok := strings.Cut(line, ": "); ok {
				addAll(v)
			}
		}
	}
	add(string(OrdersJSON()))
	base := make([]string, 0, len(set))
	for s := range set {
		base = append(base, s)
	}
	slices.Sort(base)
	rnd := rand.New(rand.NewPCG(1, 2))
	junk := []string{"'", "\"", "<", ">", "(", ")", ";", "|", "&", "$", "{", "}", "\\", "/", "\n", "\x00", "\xff", "é", "\u212a", "\u017f", "%27", "  "}
	for range len(base) {
		s := []byte(base[rnd.IntN(len(base))])
		for range 1 + rnd.IntN(3) {
			if len(s) == 0 {
				break
			}
			i := rnd.IntN(len(s))
			switch rnd.IntN(4) {
			case 0: // flip case
				if c := s[i]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
					s[i] = c ^ 0x20
				}
			case 1: // insert junk
				s = slices.Insert(s, i, []byte(junk[rnd.IntN(len(junk))])...)
			case 2: // delete
				s = slices.Delete(s, i, i+1)
			case 3: // join with another entry
				s = append(s, base[rnd.IntN(len(base))]...)
			}
		}
		add(string(s))
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// corpusSample is the inputs, or 1,500 of them drawn with seed unless
// -crs-full.
func corpusSample(inputs []string, seed uint64) []string {
	if *crsFull {
		return inputs
	}
	rnd := rand.New(rand.NewPCG(seed, seed+1))
	sample := make([]string, 1500)
	for i := range sample {
		sample[i] = inputs[rnd.IntN(len(inputs))]
	}
	return sample
}

// TestPrefilterSoundOnCRS is the prefilter's differential test: for every
// @rx pattern of the CRS and every input of the corpus (a sample of it
// unless -crs-full), plus strings generated from the pattern itself, a
// value the prefilter rules out must not match the regexp.
func TestPrefilterSoundOnCRS(t *testing.T) {
	patterns := crsPatterns(t)
	inputs := corpus(t)
	t.Logf("%d CRS patterns, %d corpus inputs", len(patterns), len(inputs))
	if len(patterns) < 250 || len(inputs) < 5000 {
		t.Fatalf("too few patterns (%d) or inputs (%d): the collection is broken", len(patterns), len(inputs))
	}
	sample := corpusSample(inputs, 3)
	var filtered, ruledOut, total, largest, binary int
	for i, p := range patterns {
		data := "(?sm)" + p
		if matchesArbitraryBytes(data) {
			// binaryregexp path: no prefilter, literals for the prescreen.
			bre := binaryregexp.MustCompile(p)
			parsed, err := bsyntax.Parse(p, bsyntax.Perl)
			if err != nil {
				t.Fatal(err)
			}
			lits := binaryLiterals(parsed)
			binary++
			for _, s := range sample {
				if lits != nil && bre.MatchString(s) && !slices.ContainsFunc(lits, func(l string) bool { return strings.Contains(asciiLower(s), l) }) {
					t.Errorf("unsound binary literals: %q matches %q, which holds none of %q", p, s, lits)
				}
			}
			continue
		}
		re := regexp.MustCompile(data)
		parsed, err := syntax.Parse(data, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		f := rxprefilter.New(parsed)
		if !f.Trivial() {
			filtered++
		}
		largest = max(largest, f.Size())
		// The prescreen's literal sets (third_party/coraza screen.go): a
		// match holds one literal of each, ASCII case aside.
		sets := f.LiteralSets()
		check := func(s string) {
			total++
			if len(sets) > 0 && re.MatchString(s) && !strings.Contains(s, "\u212a") && !strings.Contains(s, "\u017f") {
				for _, lits := range sets {
					if !slices.ContainsFunc(lits, func(l string) bool { return strings.Contains(asciiLower(s), l) }) {
						t.Errorf("unsound literals: %q matches %q, which holds none of %q", p, s, lits)
					}
				}
			}
			if f.MayMatch(s) {
				return
			}
			ruledOut++
			if re.MatchString(s) {
				t.Errorf("unsound: %q matches %q but the prefilter %s (min %d) rules it out", p, s, f, f.MinLen())
			}
		}
		for _, s := range sample {
			check(s)
		}
		rnd := rand.New(rand.NewPCG(uint64(i), 5))
		for range 200 {
			var b strings.Builder
			b.WriteString(sample[rnd.IntN(len(sample))][:0])
			rxgen.Generate(parsed, rnd, &b)
			check(b.String())
		}
	}
	t.Logf("%d binary patterns", binary)
	t.Logf("%d of %d patterns have a prefilter (the largest visits %d nodes); it ruled out %d of %d checks", filtered, len(patterns), largest, ruledOut, total)
}

// asciiLower lower-cases ASCII letters only, as the prescreen compares.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// The operator must answer exactly as Coraza's own @rx, captures included.
func TestRxOperatorCaptures(t *testing.T) {
	e, err := Compile(api.WAFPolicy{Mode: api.WAFBlock, CustomRules: []string{
		`SecRule ARGS:a "@rx ^(x+)-(y)?(z+)$" "id:10001,phase:2,deny,status:418,log,capture,chain"`,
		`  SecRule TX:1 "@streq xx" "chain"`,
		`    SecRule TX:2 "@rx ^$" "chain"`,
		`      SecRule TX:3 "@streq zzz" "setvar:tx.captured=ok"`,
	}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := benchRequest("GET", "/?a=xx-zzz", nil)
	tx, res := e.InspectRequest(r, benchClient)
	tx.Close()
	if !res.Reject || res.Status != 418 {
		t.Fatalf("captures: %+v", res)
	}
	r = benchRequest("GET", "/?a=xx-q", nil)
	tx, res = e.InspectRequest(r, benchClient)
	tx.Close()
	if res.Reject {
		t.Fatalf("no match expected: %+v", res)
	}
	// The pattern is anchored at the start of a line: on a value with a
	// newline it matches the second line (Coraza's multi-line mode).
	r = benchRequest("GET", "/?a=q%0Axx-zzz", nil)
	tx, res = e.InspectRequest(r, benchClient)
	tx.Close()
	if !res.Reject || res.Status != 418 {
		t.Fatalf("second line: %+v", res)
	}
}

// eachOneLineInput calls check with every input without a newline, and
// with 200 strings generated from pattern p (in Coraza's dot-all mode), as
// they are and with text around them, so that matches are checked too.
func eachOneLineInput(t *testing.T, p string, inputs []string, seed uint64, check func(string)) {
	t.Helper()
	oneLine := func(s string) {
		if strings.IndexByte(s, '\n') < 0 {
			check(s)
		}
	}
	for _, s := range inputs {
		oneLine(s)
	}
	parsed, err := syntax.Parse("(?s)"+p, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(seed, seed+1))
	for i := 0; i < 200; i++ {
		var b strings.Builder
		rxgen.Generate(parsed, rnd, &b)
		s := b.String()
		oneLine(s)
		oneLine("x " + s)
		oneLine(s + " x")
	}
}

// TestLineAnchoredSameAsMultiline: for every CRS pattern that has a
// single-line variant (lineAnchored), the variant finds the same match and
// the same groups as the (?sm) regexp on every corpus input without a
// newline, and on the pattern's own generated matches.
func TestLineAnchoredSameAsMultiline(t *testing.T) {
	patterns := crsPatterns(t)
	inputs := corpus(t)
	variants := 0
	for _, p := range patterns {
		line := lineAnchored(p)
		if line == nil {
			continue
		}
		variants++
		re := regexp.MustCompile("(?sm)" + p)
		eachOneLineInput(t, p, inputs, 5, func(s string) {
			if got, want := line.FindStringSubmatchIndex(s), re.FindStringSubmatchIndex(s); !slices.Equal(got, want) {
				t.Fatalf("%q on %q: single-line %v, multi-line %v", p, s, got, want)
			}
		})
	}
	if variants < 20 {
		t.Fatalf("only %d CRS patterns have a single-line variant: lineAnchored is broken", variants)
	}
	t.Logf("%d of %d CRS patterns have a single-line variant", variants, len(patterns))
}

// TestStartSplitSound: for every CRS pattern beginning with (?:^|X), the
// split (an anchored regexp for the ^ branch, a prefilter for the other)
// says "may match" for every corpus input without a newline the pattern
// matches, and for generated matches of the pattern.
func TestStartSplitSound(t *testing.T) {
	patterns := crsPatterns(t)
	inputs := corpus(t)
	splits, ruledOut := 0, 0
	for _, p := range patterns {
		sp := newStartSplit(p)
		if sp == nil {
			continue
		}
		splits++
		re := regexp.MustCompile("(?sm)" + p)
		eachOneLineInput(t, p, inputs, 7, func(s string) {
			may := sp.mayMatch(s)
			if !may {
				ruledOut++
			}
			if !may && re.MatchString(s) {
				t.Fatalf("%q matches %q, which its split rules out", p, s)
			}
		})
	}
	if splits < 5 {
		t.Fatalf("only %d CRS patterns split: newStartSplit is broken", splits)
	}
	t.Logf("%d CRS patterns split; %d checks ruled out", splits, ruledOut)
}

// TestMatchesWhole: the patterns matchesWhole takes match every value as a
// whole with no group, as Go's regexp does with Coraza's flags; the others
// are not taken.
func TestMatchesWhole(t *testing.T) {
	values := []string{"", "host", "User-Agent", "a\nb", "\n", "x\n", "\nx", "é\x00\xff"}
	for _, c := range []struct {
		pattern string
		whole   bool
	}{
		{`^.*$`, true}, {`.*`, true}, {`^.*`, true}, {`.*$`, true}, {`\A.*\z`, true},
		{`^.*?$`, false}, {`(.*)`, false}, {`^(?:.*)$`, true}, {`^.+$`, false}, {`(?-s)^.*$`, false},
		{`^a.*$`, false}, {`^.*$|x`, false}, {`.*x`, false}, {`^$`, false},
	} {
		data := "(?sm)" + c.pattern
		parsed, err := syntax.Parse(data, syntax.Perl)
		if err != nil {
			t.Fatal(err)
		}
		if got := matchesWhole(parsed); got != c.whole {
			t.Errorf("matchesWhole(%q) = %v, want %v", c.pattern, got, c.whole)
			continue
		}
		if !c.whole {
			continue
		}
		re := regexp.MustCompile(data)
		for _, v := range values {
			if m := re.FindStringSubmatchIndex(v); len(m) != 2 || m[0] != 0 || m[1] != len(v) {
				t.Errorf("%q on %q: regexp's match %v, not the whole value", c.pattern, v, m)
			}
		}
	}
}

// TestDFAOnCRS is the DFA's differential test on the CRS: for every @rx
// pattern and every input of the corpus (a sample unless -crs-full), and
// strings generated from the pattern itself, the operator's DFA answers
// as the regexp does, and answers every ASCII input.
func TestDFAOnCRS(t *testing.T) {
	patterns := crsPatterns(t)
	sample := corpusSample(corpus(t), 5)
	var dfas, answered, matched, states, spent int
	for i, p := range patterns {
		data := "(?sm)" + p
		if matchesArbitraryBytes(data) {
			continue
		}
		op, err := newRx(plugintypes.OperatorOptions{Arguments: p})
		if err != nil {
			t.Fatal(err)
		}
		d := op.(*rx).dfa
		if d == nil {
			t.Errorf("%q: no DFA", p)
			continue
		}
		dfas++
		re := regexp.MustCompile(data)
		check := func(s string) {
			got, ok := d.Match(s)
			if !ok {
				if strings.IndexFunc(s, func(r rune) bool { return r >= 0x80 }) < 0 {
					t.Fatalf("%q: no answer for ASCII %q (budget spent: %v)", p, s, d.Full())
				}
				return
			}
			answered++
			if want := re.MatchString(s); got != want {
				t.Fatalf("%q on %q: DFA %v, regexp %v", p, s, got, want)
			}
			if got {
				matched++
			}
		}
		for _, s := range sample {
			check(s)
		}
		parsed, _ := syntax.Parse(data, syntax.Perl)
		rnd := rand.New(rand.NewPCG(uint64(i), 9))
		for range 200 {
			var b strings.Builder
			rxgen.Generate(parsed, rnd, &b)
			s := b.String()
			check(s)
			check("x " + s + " y")
		}
		n, bytes, _ := d.Stats()
		states += n
		spent += bytes
	}
	if dfas < 250 || matched < 20000 {
		t.Fatalf("%d DFAs, %d matches: the test is broken", dfas, matched)
	}
	t.Logf("%d DFAs answered %d checks (%d matches); %d states, %d KiB", dfas, answered, matched, states, spent>>10)
}
