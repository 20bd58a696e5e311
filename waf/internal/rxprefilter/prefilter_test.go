package rxprefilter

import (
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-edge/rampart/waf/internal/rxprefilter/rxgen"
)

func mustFilter(t testing.TB, pattern string) (*regexp.Regexp, *Filter) {
	t.Helper()
	re, err := regexp.Compile(pattern)
	if err != nil {
		t.Fatal(err)
	}
	p, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	return re, New(p)
}

// MayMatch's handling of case-insensitive input rests on this: the case
// variants of an ASCII letter are ASCII, KELVIN SIGN or LONG S.
func TestASCIIFoldOrbits(t *testing.T) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f >= utf8.RuneSelf && f != '\u212a' && f != '\u017f' {
				t.Errorf("%q folds to %q", r, f)
			}
		}
	}
}

func TestConditions(t *testing.T) {
	for _, tc := range []struct {
		pattern, cond string
		minLen        int
		no, maybe     []string
	}{
		{`(?sm)sleep\s*\(`, `(("sleep(" OR ("sleep" AND ("\t" OR "\n" OR "\f" OR "\r" OR " ") AND "(")) AND pair([p] [\x09\x0a\x0c\x0d (]))`, 6, []string{"slee(p", "sleep"}, []string{"sleep (", "xsleep\t("}},
		{`(?i)union\s+select`, `("union" AND ("\t" OR "\n" OR "\f" OR "\r" OR " ") AND "select" AND pair([n] [\x09\x0a\x0c\x0d ]) AND pair([\x09\x0a\x0c\x0d ] [s]))`, 12, []string{"union selec"}, []string{"UNION  SELECT", "uNiOn\nSeLeCt"}},
		{`(?i)s`, `"s"`, 1, []string{"abc"}, []string{"S", "\u017f"}},
		{`(?i)k`, `"k"`, 1, []string{"abc"}, []string{"K", "\u212a"}},
		{`java\.lang\.(?:runtime|processbuilder)`, `(("java.lang.processbuilder" OR "java.lang.runtime") AND pair([.] [pr]))`, 17, []string{"java.lang.Thread"}, []string{"java.lang.runtime"}},
		{`a[bc]d`, `(("abd" OR "acd") AND pair([a] [bc]) AND pair([bc] [d]))`, 3, []string{"abc"}, []string{"acd"}},
		{`a.*b`, `("a" AND "b")`, 2, []string{"aaa"}, []string{"a-b"}},
		{`x*`, `*`, 0, nil, []string{""}},
		{`(?:abc|)d`, `"d"`, 1, []string{"abc"}, []string{"d"}},
		{`\x{fffd}x`, `"x"`, 2, []string{"\xffy"}, []string{"\xffx"}},
		{`(?i)é`, `*`, 2, []string{"e"}, []string{"É"}},
		{`^(?:GET|HEAD)$`, `(("get" AND last([t])) OR ("head" AND last([d])))`, 3, []string{"POST"}, []string{"GET", "HEAD"}},
		// A command name the value must end with (the CRS's commands
		// without arguments): the value's last byte is checked.
		{`(?i)(?:ps[0-9]+|w\w*o|df\d|[a-z]+sh)$`, `(("ps" AND ("0" OR "1" OR "2" OR "3" OR "4" OR "5" OR "6" OR "7" OR "8" OR "9") AND last([0123456789])) OR ("w" AND "o" AND last([o])) OR ("df" AND ("0" OR "1" OR "2" OR "3" OR "4" OR "5" OR "6" OR "7" OR "8" OR "9") AND last([0123456789])) OR ("sh" AND last([h])))`, 2,
			[]string{"Mozilla/5.0 (X11)", "wps9?x", "who2"}, []string{"a=ps2", "x\nwho", "bash", "wo"}},
		// Literals somewhere are not enough: the slash must be followed by
		// a dot or a question mark (adjacent-byte pairs).
		{`(?:/|\\)(?:\.|\?){2,3}(?:/|\\)`, `(("/../" OR "/..\\" OR "/.?/" OR "/.?\\" OR "/?./" OR "/?.\\" OR "/??/" OR "/??\\" OR "\\../" OR "\\..\\" OR "\\.?/" OR "\\.?\\" OR "\\?./" OR "\\?.\\" OR "\\??/" OR "\\??\\" OR (("/" OR "\\") AND (".." OR ".?" OR "?." OR "??") AND ("." OR "?") AND ("/" OR "\\"))) AND pair([.?] [.?]) AND pair([/\x5c] [.?]) AND pair([.?] [/\x5c]))`, 4,
			[]string{"/nostore/1k?id=42&q=blue+widgets&page=2", "/a/b.c", "?/", "/x..y/"}, []string{"/../", "x\\?.\\y", "/.?./"}},
	} {
		re, f := mustFilter(t, tc.pattern)
		if got := f.String(); got != tc.cond {
			t.Errorf("%s: condition %s, want %s", tc.pattern, got, tc.cond)
		}
		if f.MinLen() != tc.minLen {
			t.Errorf("%s: min length %d, want %d", tc.pattern, f.MinLen(), tc.minLen)
		}
		for _, s := range tc.no {
			if f.MayMatch(s) || re.MatchString(s) {
				t.Errorf("%s: %q: filter %v, regexp %v; want both false", tc.pattern, s, f.MayMatch(s), re.MatchString(s))
			}
		}
		for _, s := range tc.maybe {
			if !f.MayMatch(s) || !re.MatchString(s) {
				t.Errorf("%s: %q: filter %v, regexp %v; want both true", tc.pattern, s, f.MayMatch(s), re.MatchString(s))
			}
		}
	}
}

// CheckSound fails t when the filter rules out an input the regexp matches.
func CheckSound(t testing.TB, pattern string, re *regexp.Regexp, f *Filter, s string) {
	t.Helper()
	if !f.MayMatch(s) && re.MatchString(s) {
		t.Fatalf("unsound: %q matches %q but the filter %s (min %d) rules it out", pattern, s, f, f.MinLen())
	}
}

// checkGenerated runs n generated matches (with random surroundings) of a
// pattern through the filter.
func checkGenerated(t testing.TB, pattern string, n int, seed uint64) {
	re, f := mustFilter(t, pattern)
	parsed, _ := syntax.Parse(pattern, syntax.Perl)
	rnd := rand.New(rand.NewPCG(seed, 7))
	junk := []string{"", "x", "A b", "\n", "é", "'", "\xff"}
	for range n {
		var b strings.Builder
		b.WriteString(junk[rnd.IntN(len(junk))])
		rxgen.Generate(parsed, rnd, &b)
		b.WriteString(junk[rnd.IntN(len(junk))])
		CheckSound(t, pattern, re, f, b.String())
	}
}

func TestGeneratedMatches(t *testing.T) {
	for i, p := range []string{
		`(?sm)(?i)<script[^>]*>[\s\S]*?`,
		`(?sm)(?i)(?:\$|&dollar;?)(?:\{|&l(?:brace|cub);?)`,
		`(?sm)(?i:sleep\s*?\(.*?\)|benchmark\s*?\(.*?\,.*?\))`,
		`(?sm)[oOcC]:\d+:".+?":\d+:\{.*}`,
		`(?sm)(?i)\b(?:s(?:elect|leep)|k(?:ill|ey))\b`,
		`(?sm)^[^!&\(\):<>\|~]*\)[\s\x0b]*(?:\((?:[^!&\(\),<->\|~]+[<>~]?=|[\s\x0b]*[!&\|][\s\x0b]*\())`,
		`(?sm)\x{fffd}|(?i)ſelect`,
		`(?sm)(?i)[kK]elvin|[s]ign`,
		`(?sm)a{2,4}b{0,2}(?:cd|ef){1,}`,
		// Adjacent-byte pairs across optional and repeated pieces,
		// alternatives, classes and folded case.
		`(?sm)(?i)a(?:b|c?)d+e?[fg]`,
		`(?sm)x(?:y|)(?:z?|w)v`,
		`(?sm)(?i)(?:%2f|/)(?:\.|%2e){2}(?:%2f|/)`,
		`(?sm)[a-c]\s*[0-2]{1,3}(?:-|_)?k`,
		// Alternations a match ends with at a line end (opLast).
		`(?sm)(?i)[;|&]\s*(?:w(?:ho(?:ami)?)?|ps(?:ql)?|d(?:f|mesg)|mysql(?:[^\s]{1,10}\b)?|ls|[a-c]+[0-9]?)$`,
		`(?sm)(?:x|(?:ab|c+)d?)\b$`,
		`(?sm)^(?:get|post|\w+x)\s*$`,
		`(?sm)(?i)(?:ab|c[é-ü]|d[^a-z]|e\x{fffd}|k)$`,
	} {
		checkGenerated(t, p, 2000, uint64(i))
	}
}

func FuzzMayMatch(f *testing.F) {
	f.Add(`(?i)union\s+select`, "UNION SELECT", uint64(1))
	f.Add(`(?i)<script[^>]*>`, "<ScRiPt >", uint64(2))
	f.Add(`a[bc]+d|\x{fffd}`, "\xff", uint64(3))
	f.Add(`(?i)k[^a]s`, "\u212a!\u017f", uint64(4))
	f.Fuzz(func(t *testing.T, pattern, input string, seed uint64) {
		pattern = "(?sm)" + pattern
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		parsed, err := syntax.Parse(pattern, syntax.Perl)
		if err != nil {
			return
		}
		flt := New(parsed)
		CheckSound(t, pattern, re, flt, input)
		rnd := rand.New(rand.NewPCG(seed, 1))
		for range 8 {
			var b strings.Builder
			b.WriteString(input)
			rxgen.Generate(parsed, rnd, &b)
			CheckSound(t, pattern, re, flt, b.String())
		}
	})
}

func BenchmarkMayMatch(b *testing.B) {
	_, f := mustFilter(b, `(?sm)(?i)(?:\$|&dollar;?)(?:\{|&l(?:brace|cub);?)(?:[^\}]{0,15}(?:\$|&dollar;?)(?:\{|&l(?:brace|cub);?)`)
	for b.Loop() {
		f.MayMatch("W-1007")
		f.MayMatch("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36")
	}
}

// Nested and repeated groups must not make the condition explode: its
// size is bounded, and it stays sound.
func TestPathologicalShapes(t *testing.T) {
	for _, p := range []string{
		strings.Repeat("(?:a+", 50) + strings.Repeat(")+", 50),
		strings.Repeat("(?:ab|cd)?", 200),
		strings.Repeat("(?:a|b)", 200),
		strings.Repeat("[a-c]?x", 300),
		strings.Repeat("(?:(?:ab|c)*d)+", 100),
		strings.Repeat("(?:x(?:y(?:z", 30) + strings.Repeat(")?)?)?", 30),
		strings.Repeat("(?:a|", 300) + "b" + strings.Repeat(")", 300),
		strings.Repeat("(?:ab?c?d?)", 300),
	} {
		pattern := "(?sm)" + p
		re, f := mustFilter(t, pattern)
		if f.Size() > maxNodes {
			t.Errorf("%.40q: size %d", p, f.Size())
		}
		for _, s := range []string{"", strings.Repeat("abcdxyz", 30), strings.Repeat("a", 400)} {
			CheckSound(t, pattern, re, f, s)
		}
	}
}
