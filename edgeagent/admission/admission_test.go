package admission

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestBodyLimit(t *testing.T) {
	for _, c := range []struct {
		body    string
		max     int64
		tooBig  bool
		readAll string
	}{
		{"hello", 5, false, "hello"},
		{"hello", 10, false, "hello"},
		{"hello!", 5, true, "hello"},
	} {
		b := &Body{rc: io.NopCloser(strings.NewReader(c.body)), left: c.max, max: c.max}
		got, err := io.ReadAll(b)
		var mbe *http.MaxBytesError
		if string(got) != c.readAll || errors.As(err, &mbe) != c.tooBig || errors.As(b.Err(), &mbe) != c.tooBig {
			t.Errorf("%q/%d: read %q, err %v, Err() %v", c.body, c.max, got, err, b.Err())
		}
		if c.tooBig {
			if _, err := b.Read(nil); !errors.As(err, &mbe) {
				t.Errorf("an empty read after the limit: %v", err)
			}
		}
	}
}

func TestShedsOverTheCap(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := New(Config{MaxInFlight: 1}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	<-entered
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" || h.Shed() != 1 {
		t.Fatalf("status %d, retry-after %q, shed %d", rec.Code, rec.Header().Get("Retry-After"), h.Shed())
	}
	close(release)
	<-done
	if h.InFlight() != 0 {
		t.Fatalf("in flight %d after the request", h.InFlight())
	}
}

func TestDeclaredLengthOverLimitIs413(t *testing.T) {
	called := false
	h := New(Config{MaxBodyBytes: 4}, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader("hello")))
	if rec.Code != http.StatusRequestEntityTooLarge || called {
		t.Fatalf("status %d, next called %v", rec.Code, called)
	}
}
