package api

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseBlocklist(t *testing.T) {
	good := `{"v":1,"entries":[{"cidr":"192.0.2.7"},{"cidr":"198.51.100.0/24","reason":"scanner","expires":"2030-01-02T03:04:05Z"},{"cidr":"2001:db8::/32"}]}`
	b, err := ParseBlocklist([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Entries) != 3 || b.Entries[1].Reason != "scanner" || !b.Entries[1].Expires.Equal(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("parsed %+v", b)
	}
	if b, err := ParseBlocklist([]byte(`{"v":1,"entries":[]}`)); err != nil || len(b.Entries) != 0 {
		t.Fatalf("empty list: %+v %v", b, err)
	}

	// field "" only wants an error (the JSON decoder names no field).
	tests := []struct{ name, doc, field string }{
		{"version", `{"v":2,"entries":[]}`, "v"},
		{"no version", `{"entries":[]}`, "v"},
		{"unknown field", `{"v":1,"entries":[],"extra":1}`, "extra"},
		{"unknown entry field", `{"v":1,"entries":[{"cidr":"192.0.2.1","ttl":5}]}`, "ttl"},
		{"wrong type", `{"v":1,"entries":[{"cidr":5}]}`, "entries.cidr"},
		{"empty cidr", `{"v":1,"entries":[{"reason":"x"}]}`, "entries[0].cidr"},
		{"not a cidr", `{"v":1,"entries":[{"cidr":"192.0.2.1"},{"cidr":"example.com"}]}`, "entries[1].cidr"},
		{"host bits", `{"v":1,"entries":[{"cidr":"10.1.2.3/8"}]}`, "entries[0].cidr"},
		{"prefix too long", `{"v":1,"entries":[{"cidr":"10.0.0.0/33"}]}`, "entries[0].cidr"},
		{"mapped", `{"v":1,"entries":[{"cidr":"::ffff:192.0.2.1"}]}`, "entries[0].cidr"},
		{"zone", `{"v":1,"entries":[{"cidr":"fe80::1%eth0"}]}`, "entries[0].cidr"},
		{"duplicate", `{"v":1,"entries":[{"cidr":"192.0.2.0/24"},{"cidr":"192.0.2.0/24"}]}`, "entries[1].cidr"},
		{"duplicate address", `{"v":1,"entries":[{"cidr":"192.0.2.1/32"},{"cidr":"192.0.2.1"}]}`, "entries[1].cidr"},
		{"long reason", `{"v":1,"entries":[{"cidr":"192.0.2.1","reason":"` + strings.Repeat("r", 201) + `"}]}`, "entries[0].reason"},
		{"control character", `{"v":1,"entries":[{"cidr":"192.0.2.1","reason":"a\nb"}]}`, "entries[0].reason"},
		{"bad expiry", `{"v":1,"entries":[{"cidr":"192.0.2.1","expires":"tomorrow"}]}`, ""},
		{"implausible expiry", `{"v":1,"entries":[{"cidr":"192.0.2.1","expires":"0001-01-01T00:00:01Z"}]}`, "entries[0].expires"},
	}
	for _, tt := range tests {
		_, err := ParseBlocklist([]byte(tt.doc))
		fes := AsFieldErrors(err)
		if len(fes) == 0 || (tt.field != "" && fes[0].Field != tt.field) {
			t.Errorf("%s: %v, want an error naming %q", tt.name, err, tt.field)
		}
	}
}

func TestBlocklistBounds(t *testing.T) {
	var sb strings.Builder
	sb.WriteString(`{"v":1,"entries":[`)
	for i := range MaxBlocklistEntries + 1 {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"cidr":"10.%d.%d.0/24"}`, i>>8, i&0xff)
	}
	sb.WriteString(`]}`)
	_, err := ParseBlocklist([]byte(sb.String()))
	if fes := AsFieldErrors(err); len(fes) != 1 || fes[0].Field != "entries" {
		t.Fatalf("%d entries: %v", MaxBlocklistEntries+1, err)
	}
	// The largest list (every entry with a full reason) still fits a NATS message.
	b := Blocklist{V: Version}
	for i := range MaxBlocklistEntries {
		b.Entries = append(b.Entries, BlocklistEntry{CIDR: fmt.Sprintf("10.%d.%d.0/24", i>>8, i&0xff)})
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	big := `{"v":1,"entries":[{"cidr":"192.0.2.1","reason":"` + strings.Repeat("x", MaxBlocklistBytes) + `"}]}`
	if _, err := ParseBlocklist([]byte(big)); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversize document: %v", err)
	}
}

func TestBlocklistActive(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	b := Blocklist{V: Version, Entries: []BlocklistEntry{
		{CIDR: "192.0.2.1"},
		{CIDR: "192.0.2.2", Expires: now.Add(-time.Second)},
		{CIDR: "192.0.2.3", Expires: now.Add(time.Hour)},
		{CIDR: "192.0.2.4", Expires: now.Add(time.Minute)},
		{CIDR: "192.0.2.5", Expires: now},
	}}
	cidrs, next := b.Active(now)
	if want := []string{"192.0.2.1", "192.0.2.3", "192.0.2.4"}; !slices.Equal(cidrs, want) {
		t.Errorf("active %q, want %q", cidrs, want)
	}
	if !next.Equal(now.Add(time.Minute)) {
		t.Errorf("next expiry %v", next)
	}
	if _, next := (&Blocklist{V: Version, Entries: []BlocklistEntry{{CIDR: "192.0.2.1"}}}).Active(now); !next.IsZero() {
		t.Errorf("no expiry: next %v", next)
	}
}
