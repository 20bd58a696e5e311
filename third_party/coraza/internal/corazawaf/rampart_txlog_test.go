// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"bytes"
	"strings"
	"testing"

	"github.com/corazawaf/coraza/v3/debuglog"
)

// A transaction's log lines carry its id where With put it (after the
// logger's own fields, before the line's), at every level the logger
// writes, and through the loggers derived from it.
func TestTxLoggerAddsID(t *testing.T) {
	var out bytes.Buffer
	w := NewWAF()
	w.Logger = debuglog.Default().WithOutput(&out).WithLevel(debuglog.LevelDebug).With(debuglog.Str("waf", "w1"))
	tx := w.NewTransactionWithOptions(Options{ID: "tx-42"})
	tx.DebugLogger().Warn().Str("k", "v").Msg("warned")
	tx.DebugLogger().Debug().Msg("debugged")
	tx.DebugLogger().With(debuglog.Str("extra", "e")).Error().Msg("derived")
	tx.DebugLogger().WithLevel(debuglog.LevelError).Warn().Msg("not written")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var got []string
	for _, l := range lines {
		if strings.Contains(l, "warned") || strings.Contains(l, "debugged") || strings.Contains(l, "derived") || strings.Contains(l, "not written") {
			got = append(got, l)
		}
	}
	if len(got) != 3 {
		t.Fatalf("lines %q", lines)
	}
	for i, want := range []string{`waf="w1" tx_id="tx-42" k="v"`, `waf="w1" tx_id="tx-42"`, `waf="w1" tx_id="tx-42" extra="e"`} {
		if !strings.HasSuffix(got[i], want) {
			t.Errorf("line %q, want it to end in %q", got[i], want)
		}
	}
	// A logger that writes nothing starts no field.
	w.Logger = debuglog.Noop()
	tx = w.NewTransactionWithOptions(Options{ID: "tx-43"})
	if e := tx.DebugLogger().Error(); e.IsEnabled() {
		t.Error("a no-op logger's event is enabled")
	}
}
