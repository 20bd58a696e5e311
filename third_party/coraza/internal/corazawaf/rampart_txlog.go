// Copyright 2026 The Rampart authors
// SPDX-License-Identifier: Apache-2.0

package corazawaf

import (
	"io"

	"github.com/corazawaf/coraza/v3/debuglog"
)

// txLogger is a transaction's debug logger (Rampart fork): the WAF's
// logger with the tx_id field added to each event it starts, rather than
// a logger made with With for every transaction (a new logger and a copy
// of its fields, though almost no transaction logs anything). An event
// gets the field where With would have put it: after the logger's own
// fields, before the event's.
type txLogger struct {
	base    debuglog.Logger
	id      string
	debugOn bool // base.Debug().IsEnabled(): the debug lines, many a request, start no event otherwise
}

// noEvent is the event of a level that is not written.
var noEvent = debuglog.Noop().Debug()

func newTxLogger(base debuglog.Logger, id string) txLogger {
	return txLogger{base: base, id: id, debugOn: base.Debug().IsEnabled()}
}

var _ debuglog.Logger = (*txLogger)(nil)

func (l *txLogger) withID(e debuglog.Event) debuglog.Event {
	if !e.IsEnabled() {
		return e
	}
	return e.Str("tx_id", l.id)
}

func (l *txLogger) WithOutput(w io.Writer) debuglog.Logger {
	nl := newTxLogger(l.base.WithOutput(w), l.id)
	return &nl
}

func (l *txLogger) WithLevel(lvl debuglog.Level) debuglog.Logger {
	nl := newTxLogger(l.base.WithLevel(lvl), l.id)
	return &nl
}

func (l *txLogger) With(fs ...debuglog.ContextField) debuglog.Logger {
	return l.base.With(append([]debuglog.ContextField{debuglog.Str("tx_id", l.id)}, fs...)...)
}

func (l *txLogger) Trace() debuglog.Event { return l.withID(l.base.Trace()) }
func (l *txLogger) Debug() debuglog.Event {
	if !l.debugOn {
		return noEvent
	}
	return l.withID(l.base.Debug())
}
func (l *txLogger) Info() debuglog.Event  { return l.withID(l.base.Info()) }
func (l *txLogger) Warn() debuglog.Event  { return l.withID(l.base.Warn()) }
func (l *txLogger) Error() debuglog.Event { return l.withID(l.base.Error()) }
