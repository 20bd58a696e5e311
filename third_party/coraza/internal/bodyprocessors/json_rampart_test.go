// Rampart: readJSON emits its pairs in document order (RAMPART.md). These
// tests hold it to a flattening written independently, on encoding/json's
// token stream.

package bodyprocessors

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"
)

type pair struct{ key, value string }

// flattenRef flattens doc as readJSON is documented to: object members and
// array elements in document order, keys joined with '.', array indexes as
// keys, an array's length under its own key after its elements (when it has
// any), strings unescaped, other scalars as written, null as "".
func flattenRef(doc string) ([]pair, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	out := []pair{} // not nil: a container that flattens to nothing is still compared
	var value func(key string, tok json.Token) error
	value = func(key string, tok json.Token) error {
		switch t := tok.(type) {
		case json.Delim:
			n := 0
			for dec.More() {
				sub := key + "." + strconv.Itoa(n)
				if t == '{' {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					sub = key + "." + k.(string)
				}
				next, err := dec.Token()
				if err != nil {
					return err
				}
				if err := value(sub, next); err != nil {
					return err
				}
				n++
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return err
			}
			if t == '[' && n > 0 {
				out = append(out, pair{key, strconv.Itoa(n)})
			}
		case string:
			out = append(out, pair{key, t})
		case json.Number:
			out = append(out, pair{key, t.String()})
		case bool:
			out = append(out, pair{key, strconv.FormatBool(t)})
		case nil:
			out = append(out, pair{key, ""})
		}
		return nil
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if _, ok := tok.(json.Delim); !ok {
		return nil, nil // readJSON flattens objects and arrays only
	}
	if err := value("json", tok); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data: %v", err)
	}
	return out, nil
}

func readPairs(t *testing.T, doc string, limit int) ([]pair, bool, error) {
	t.Helper()
	var got []pair
	truncated, err := readJSON(doc, 64, limit, func(k, v string) { got = append(got, pair{k, v}) })
	return got, truncated, err
}

// randJSON writes a random document: nested objects and arrays, keys with
// dots, escapes and non-ASCII text, duplicate keys, every kind of scalar,
// random whitespace.
func randJSON(r *rand.Rand, b *strings.Builder, depth int) {
	ws := func() {
		if r.Intn(4) == 0 {
			b.WriteString([]string{" ", "\n", "\t", "  \r\n "}[r.Intn(4)])
		}
	}
	str := func() {
		parts := []string{"a", "id", "x.y", "é", "日本", `\"`, `\\`, `\n`, `\u00e9`, `\ud83d\ude00`, "'", " OR 1=1", "<b>", "", "9"}
		b.WriteByte('"')
		for range r.Intn(4) {
			b.WriteString(parts[r.Intn(len(parts))])
		}
		b.WriteByte('"')
	}
	ws()
	if depth > 0 && r.Intn(3) > 0 {
		obj := r.Intn(2) == 0
		open, closing := "[", "]"
		if obj {
			open, closing = "{", "}"
		}
		b.WriteString(open)
		n := r.Intn(5)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			if obj {
				ws()
				str()
				ws()
				b.WriteByte(':')
			}
			randJSON(r, b, depth-1)
		}
		ws()
		b.WriteString(closing)
		ws()
		return
	}
	switch r.Intn(6) {
	case 0, 1:
		str()
	case 2:
		b.WriteString([]string{"0", "-12", "3.25", "1e9", "-0.5E-3", "12345678901234567890"}[r.Intn(6)])
	case 3:
		b.WriteString("true")
	case 4:
		b.WriteString("false")
	default:
		b.WriteString("null")
	}
	ws()
}

func TestReadJSONEmitsTheDocumentInOrder(t *testing.T) {
	docs := []string{
		`{"data": {"name": "John", "age": 30}, "items": [1,2,3]}`,
		`[{"data": {"name": "John", "age": 30}, "items": [1,2,3]}]`,
		`{"account":{"role":"x"},"account.role":"y","Account":{"Role":"z"}}`,
		`{"a":1,"a":2,"e":[],"o":{},"n":null,"t":true,"s":"it's \"q\" \u00e9"}`,
	}
	r := rand.New(rand.NewSource(1))
	for range 3000 {
		var b strings.Builder
		randJSON(r, &b, 4)
		docs = append(docs, b.String())
	}
	for _, doc := range docs {
		want, err := flattenRef(doc)
		if err != nil {
			t.Fatalf("reference: %v: %s", err, doc)
		}
		got, truncated, err := readPairs(t, doc, 0)
		if want == nil {
			continue // a scalar document
		}
		if err != nil || truncated {
			t.Fatalf("readJSON(%s): truncated %v, %v", doc, truncated, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("readJSON(%s)\n got %q\nwant %q", doc, got, want)
		}
	}
}

func TestReadJSONStopsAtTheArgumentLimit(t *testing.T) {
	doc := `{"a":[1,2,3,4,5,6,7,8,9,10],"b":"x"}`
	got, truncated, err := readPairs(t, doc, 5)
	if err != nil || !truncated {
		t.Fatalf("truncated %v, %v; want truncated and no error", truncated, err)
	}
	want := []pair{{"json.a.0", "1"}, {"json.a.1", "2"}, {"json.a.2", "3"}, {"json.a.3", "4"}, {"json.a.4", "5"}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// A body that is not valid JSON is still inspected as far as its valid
// prefix goes, and the error says so.
func TestReadJSONInspectsTheValidPrefixOfABadBody(t *testing.T) {
	got, _, err := readPairs(t, `{"q":"1' OR 1=1","r":`, 0)
	if err == nil {
		t.Fatal("no error for an unterminated body")
	}
	if len(got) == 0 || got[0] != (pair{"json.q", "1' OR 1=1"}) {
		t.Fatalf("got %q; want json.q first", got)
	}
}
