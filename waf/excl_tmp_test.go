package waf

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-edge/rampart/controlsvc/api"
)

func BenchmarkExclTmp(b *testing.B) {
	var ids []int
	for _, f := range strings.Fields(os.Getenv("EXCL")) {
		n, _ := strconv.Atoi(f)
		ids = append(ids, n)
	}
	p := api.WAFPolicy{Mode: api.WAFBlock, InspectResponse: true}
	if len(ids) > 0 {
		p.Exclusions = []api.WAFExclusion{{RuleIDs: ids}}
	}
	e, err := Compile(p, Options{})
	if err != nil {
		b.Fatal(err)
	}
	runInspect(b, e, "GET", "/nostore/1k?id=42&q=blue+widgets&page=2", nil,
		benchResponse("text/plain; charset=utf-8", bytes.Repeat([]byte("rampart!"), 128)))
}
