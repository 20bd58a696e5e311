package purge

import (
	"testing"
	"time"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

func TestMessage(t *testing.T) {
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	p, err := Message("www.example.com", api.PurgeRequest{
		URLs:     []string{"/a?b=1", "https://WWW.example.com/c/d%20e?x=y", "http://www.example.com"},
		Prefixes: []string{"/static/"}, Tags: []string{"t1"},
	}, "id1", now)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/a?b=1", "/c/d%20e?x=y", "/"}
	if len(p.URLs) != len(want) {
		t.Fatalf("urls %q, want %q", p.URLs, want)
	}
	for i := range want {
		if p.URLs[i] != want[i] {
			t.Errorf("urls[%d] = %q, want %q", i, p.URLs[i], want[i])
		}
	}
	if p.V != api.Version || p.ID != "id1" || p.Hostname != "www.example.com" || !p.Time.Equal(now) || p.Prefixes[0] != "/static/" || p.Tags[0] != "t1" {
		t.Errorf("message %+v", p)
	}

	_, err = Message("www.example.com", api.PurgeRequest{URLs: []string{"/ok", "https://evil.example/x"}}, "id2", now)
	fes := api.AsFieldErrors(err)
	if len(fes) != 1 || fes[0].Field != "urls[1]" {
		t.Fatalf("another host: %v", err)
	}
	if _, err := Message("www.example.com", api.PurgeRequest{}, "id3", now); err == nil {
		t.Fatal("an empty purge was accepted")
	}
}
