// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package coraza_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// TestResponseBodyOfEachTransaction: with record reuse RESPONSE_BODY is the
// pooled transaction's body buffer rather than a copy (Rampart fork); each
// transaction still sees its own body, of whatever size after a larger or
// smaller one, its length in RESPONSE_CONTENT_LENGTH, and a rule matching
// it logs its own data. Without reuse (upstream's copy) the same holds.
func TestResponseBodyOfEachTransaction(t *testing.T) {
	for _, reuse := range []bool{false, true} {
		waf, err := coraza.NewWAF(coraza.NewWAFConfig().WithRecordReuse(reuse).WithDirectives(`
SecRuleEngine On
SecResponseBodyAccess On
SecResponseBodyMimeType text/plain
SecRule RESPONSE_BODY "@contains secret" "id:1,phase:4,deny,status:403,log,msg:'leak',logdata:'%{MATCHED_VAR}'"
`))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 30; i++ {
			body := fmt.Sprintf("body %d %s", i, strings.Repeat(string(rune('a'+i%26)), []int{3, 5000, 40, 70000, 0}[i%5]))
			secret := i%3 == 0
			if secret {
				body = "secret " + body
			}
			tx := waf.NewTransaction()
			tx.ProcessURI("/", "GET", "HTTP/1.1")
			tx.ProcessRequestHeaders()
			if _, err := tx.ProcessRequestBody(); err != nil {
				t.Fatal(err)
			}
			tx.AddResponseHeader("Content-Type", "text/plain")
			tx.ProcessResponseHeaders(200, "HTTP/1.1")
			if _, _, err := tx.WriteResponseBody([]byte(body)); err != nil {
				t.Fatal(err)
			}
			it, err := tx.ProcessResponseBody()
			if err != nil {
				t.Fatal(err)
			}
			vars := tx.(plugintypes.TransactionState).Variables()
			if got := vars.ResponseBody().Get(); got != body {
				t.Fatalf("reuse %v, response %d: RESPONSE_BODY has %d bytes, want %d", reuse, i, len(got), len(body))
			}
			if got := vars.ResponseContentLength().Get(); got != strconv.Itoa(len(body)) {
				t.Fatalf("reuse %v, response %d: RESPONSE_CONTENT_LENGTH %s, want %d", reuse, i, got, len(body))
			}
			if (it != nil) != secret {
				t.Fatalf("reuse %v, response %d: interruption %v, want %v", reuse, i, it, secret)
			}
			if secret {
				found := false
				for _, mr := range tx.MatchedRules() {
					if mr.Rule().ID() == 1 && strings.HasPrefix(mr.Data(), "secret body "+strconv.Itoa(i)+" ") {
						found = true
					}
				}
				if !found {
					t.Fatalf("reuse %v, response %d: rule 1's data is not this body's", reuse, i)
				}
			}
			tx.Close()
		}
	}
}
