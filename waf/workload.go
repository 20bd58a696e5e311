package waf

import (
	"bytes"
	"fmt"
)

// OrdersJSON is the request body of the WAF benchmarks — this package's and
// scripts/bench's POST workload, so both measure the same document: a 4 KB
// JSON array of 70 order lines, the kind of body an API behind a WAF
// receives, with nothing in it that the CRS at paranoia level 1 should flag.
func OrdersJSON() []byte {
	colours := []string{"red", "blue", "green", "black"}
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range 70 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"sku":"W-%04d","qty":%d,"price":%d.5,"tag":"%s"}`,
			i+1, 1000+i*7, 1+i%9, 5+i%40, colours[i%4])
	}
	b.WriteByte(']')
	return b.Bytes()
}
