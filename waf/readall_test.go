package waf

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// TestReadAll: readAll reads what io.ReadAll reads, whatever the size it
// is told (right, too small, too large, unknown), whatever buffer it is
// given and however the reader hands out its bytes, errors included.
func TestReadAll(t *testing.T) {
	body := bytes.Repeat([]byte("rampart!"), 300) // 2400 bytes
	boom := errors.New("boom")
	for _, n := range []int{0, 1, 511, 512, 513, 1024, 2400} {
		for _, size := range []int64{-1, 0, int64(n), int64(n) - 1, int64(n) + 7, ResponseBodyLimit + 1} {
			readers := map[string]func() io.Reader{
				"plain":   func() io.Reader { return bytes.NewReader(body[:n]) },
				"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(body[:n])) },
				"dataerr": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(body[:n])) },
				"failing": func() io.Reader { return io.MultiReader(bytes.NewReader(body[:n]), iotest.ErrReader(boom)) },
			}
			for name, r := range readers {
				// No buffer, one too small and one with room (both holding
				// a previous body, as a pooled one does).
				for _, into := range [][]byte{nil, bytes.Repeat([]byte("old"), 10)[:7], bytes.Repeat([]byte("old"), 1500)[:9]} {
					got, gotErr := readAll(io.LimitReader(r(), ResponseBodyLimit), size, ResponseBodyLimit, into)
					want, wantErr := io.ReadAll(io.LimitReader(r(), ResponseBodyLimit))
					if !bytes.Equal(got, want) || !errors.Is(gotErr, wantErr) && gotErr != wantErr {
						t.Errorf("%s, %d bytes, size %d, buffer cap %d: got %d bytes, %v; want %d bytes, %v", name, n, size, cap(into), len(got), gotErr, len(want), wantErr)
					}
				}
			}
		}
	}
	// The limit still holds with a Content-Length that claims less.
	big := bytes.Repeat([]byte("x"), ResponseBodyLimit+100)
	got, err := readAll(io.LimitReader(bytes.NewReader(big), ResponseBodyLimit), 10, ResponseBodyLimit, nil)
	if err != nil || len(got) != ResponseBodyLimit {
		t.Errorf("over the limit: %d bytes, %v; want %d", len(got), err, ResponseBodyLimit)
	}
}
