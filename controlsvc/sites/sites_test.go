package sites_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rampart-edge/rampart/controlsvc/api"
	"github.com/rampart-edge/rampart/controlsvc/internal/natstest"
	"github.com/rampart-edge/rampart/controlsvc/sites"
)

func site(host, origin string) api.Site {
	return api.Site{Hostname: host, Origins: []api.Origin{{URL: origin}}}
}

func newStore(t *testing.T) *sites.Store {
	_, kv, _ := natstest.Buckets(t)
	return sites.New(kv)
}

func TestNormalizeHostname(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "example.com", want: "example.com"},
		{in: "  WWW.Example.COM \n", want: "www.example.com"},
		{in: "Bücher.Example", want: "xn--bcher-kva.example"},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},
		{in: "ÉCOLE.fr", want: "xn--cole-9oa.fr"},
		{in: "", bad: true},
		{in: "   ", bad: true},
		{in: "under_score.example", bad: true},
		{in: "-lead.example", bad: true},
	} {
		got, err := sites.NormalizeHostname(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("NormalizeHostname(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeHostname(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCreateGetUpdateDelete(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)

	e, err := st.Create(ctx, site(" Bücher.Example ", "https://origin.example"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if e.Site.Hostname != "xn--bcher-kva.example" || e.Site.V != api.Version || e.Revision == 0 {
		t.Fatalf("create returned %+v", e)
	}

	if _, err := st.Create(ctx, site("bücher.example", "https://other.example")); !errors.Is(err, sites.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}

	got, err := st.Get(ctx, "BÜCHER.example")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Revision != e.Revision || got.Site.Origins[0].URL != "https://origin.example" {
		t.Fatalf("get returned %+v, want %+v", got, e)
	}

	upd, err := st.Update(ctx, site("xn--bcher-kva.example", "https://new.example"), 0)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if upd.Revision <= e.Revision {
		t.Fatalf("update revision %d not after %d", upd.Revision, e.Revision)
	}
	if _, err := st.Update(ctx, site("xn--bcher-kva.example", "https://stale.example"), e.Revision); !errors.Is(err, sites.ErrConflict) {
		t.Fatalf("update at a stale revision: %v, want ErrConflict", err)
	}
	if _, err := st.Update(ctx, site("xn--bcher-kva.example", "https://newer.example"), upd.Revision); err != nil {
		t.Fatalf("update at the current revision: %v", err)
	}
	got, _ = st.Get(ctx, "xn--bcher-kva.example")
	if got.Site.Origins[0].URL != "https://newer.example" {
		t.Fatalf("after updates origin is %q", got.Site.Origins[0].URL)
	}

	if _, err := st.Update(ctx, site("missing.example", "https://o.example"), 0); !errors.Is(err, sites.ErrNotFound) {
		t.Fatalf("update of a missing site: %v, want ErrNotFound", err)
	}

	if err := st.Delete(ctx, "Bücher.Example"); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := st.Delete(ctx, "bücher.example"); !errors.Is(err, sites.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	if _, err := st.Get(ctx, "bücher.example"); !errors.Is(err, sites.ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if _, err := st.Update(ctx, site("bücher.example", "https://o.example"), 0); !errors.Is(err, sites.ErrNotFound) {
		t.Fatalf("update after delete: %v, want ErrNotFound", err)
	}
	// A deleted hostname can be created again.
	if _, err := st.Create(ctx, site("bücher.example", "https://again.example")); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)

	if got, err := st.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty list = %v, %v", got, err)
	}
	for _, h := range []string{"c.example", "A.example", "b.example", "gone.example"} {
		if _, err := st.Create(ctx, site(h, "http://origin.example:8080")); err != nil {
			t.Fatalf("create %s: %v", h, err)
		}
	}
	if err := st.Delete(ctx, "gone.example"); err != nil {
		t.Fatal(err)
	}
	got, err := st.List(ctx)
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var hosts []string
	for _, s := range got {
		hosts = append(hosts, s.Hostname)
	}
	want := []string{"a.example", "b.example", "c.example"}
	if len(hosts) != len(want) {
		t.Fatalf("list = %v, want %v", hosts, want)
	}
	for i := range want {
		if hosts[i] != want[i] {
			t.Fatalf("list = %v, want %v", hosts, want)
		}
	}
}

func TestValidationNamesFieldsAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	for _, tc := range []struct {
		name   string
		site   api.Site
		fields []string
	}{
		{"bad origin url", site("ok.example", "ftp://origin.example"), []string{"origins[0].url"}},
		{"no origin", api.Site{Hostname: "ok.example"}, []string{"origins"}},
		{"bad idna", site("under_score.example", "https://o.example"), []string{"hostname"}},
		{"one label", site("localhost", "https://o.example"), []string{"hostname"}},
		{"several", api.Site{V: 7, Hostname: "a_b.example"}, []string{"v", "hostname", "origins"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.Create(ctx, tc.site)
			fes := api.AsFieldErrors(err)
			if len(fes) != len(tc.fields) {
				t.Fatalf("create: %v; want errors for %v", err, tc.fields)
			}
			for i, f := range tc.fields {
				if fes[i].Field != f {
					t.Errorf("error %d names %q, want %q (%v)", i, fes[i].Field, f, err)
				}
			}
		})
	}
	if got, err := st.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("after rejected writes the bucket holds %v (%v)", got, err)
	}
}
