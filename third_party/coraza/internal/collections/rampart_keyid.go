// Copyright 2026 Rampart contributors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"sync"

	"github.com/corazawaf/coraza/v3/internal/corazarules"
)

// Key ids (Rampart fork): the lower-case TX variable names that compiled
// rules name as constants (a rule's TX:name target, a setvar's key, a
// macro's %{tx.name}) get a small number, the same for the same name in
// every rule, so that the TX Map can remember where it keeps their
// values: the CRS reads and writes its TX variables ~300 times per
// request, and most of them exist by then. The numbers are the process's,
// handed out at compile time and never reused.
var keyIDs struct {
	sync.Mutex
	ids map[string]int32
}

// KeyID returns key's number (> 0); key is lower case.
func KeyID(key string) int32 {
	keyIDs.Lock()
	defer keyIDs.Unlock()
	if keyIDs.ids == nil {
		keyIDs.ids = map[string]int32{}
	}
	id, ok := keyIDs.ids[key]
	if !ok {
		id = int32(len(keyIDs.ids) + 1)
		keyIDs.ids[key] = id
	}
	return id
}

// maxKeyIDs bounds the ids a Map remembers (beyond it, lookups hash).
const maxKeyIDs = 4096

// idSlot is what a Map remembers of the key with some id: whether it is
// there and its value list, as they were when the Map's gen and keysGen
// were gen and keysGen. A list is replaced or removed only with gen
// changing (a value replaced in place is seen through the list), and a
// key added only with keysGen changing: a key that was there is still
// there, with the same list, while gen is the same; one that was not,
// while keysGen is the same too.
type idSlot struct {
	gen, keysGen   uint64
	values         []keyValue
	valid, present bool
}

// lookupID is lookup for key, lower case, whose KeyID is id.
func (c *Map) lookupID(id int32, key string) []keyValue {
	if c.isCaseSensitive || id <= 0 || id >= maxKeyIDs {
		values, _, _ := c.lookup(key)
		return values
	}
	if int(id) < len(c.ids) {
		if s := &c.ids[id]; s.valid && s.gen == c.gen && (s.present || s.keysGen == c.keysGen) {
			return s.values
		}
	} else {
		c.ids = append(c.ids, make([]idSlot, int(id)+1-len(c.ids))...)
	}
	values, ok := c.data[key]
	c.ids[id] = idSlot{gen: c.gen, keysGen: c.keysGen, values: values, valid: true, present: ok}
	return values
}

// FindStringIDInto is FindStringInto(key) for key, lower case, whose
// KeyID is id.
func (c *Map) FindStringIDInto(id int32, key string, md *corazarules.MatchData) int {
	if key == "" || len(c.data) == 0 {
		return c.FindStringInto(key, md)
	}
	e := c.lookupID(id, key)
	if len(e) == 1 {
		*md = corazarules.MatchData{Variable_: c.variable, Key_: e[0].key, Value_: e[0].value}
	}
	return len(e)
}

// GetFirstID is GetFirst(key) for key, lower case, whose KeyID is id.
func (c *Map) GetFirstID(id int32, key string) (string, bool) {
	if len(c.data) == 0 {
		return "", false
	}
	values := c.lookupID(id, key)
	if len(values) == 0 {
		return "", false
	}
	return values[0].value, true
}

// SetOneID is SetOne(key, value) for key, lower case, whose KeyID is id.
func (c *Map) SetOneID(id int32, key string, value string) {
	values := c.lookupID(id, key)
	switch {
	case len(values) == 1:
		values[0] = keyValue{key: key, value: value} // in place, as SetOne
		c.nkeys = -1
	case values == nil && !c.isCaseSensitive && id > 0 && int(id) < len(c.ids) && !c.ids[id].present:
		c.nkeys = -1
		c.addOne(key, key, value) // as SetOne, without looking key up again
	default:
		c.SetOne(key, value)
	}
}

// addOne adds key, lower case and not in c, with its one value: SetOne
// for a new key.
func (c *Map) addOne(key, originalKey, value string) {
	c.keysGen++
	var list []keyValue
	if n := len(c.spare); n > 0 {
		list = c.spare[n-1][:1]
		c.spare = c.spare[:n-1]
	} else {
		list = make([]keyValue, 1)
	}
	list[0] = keyValue{key: originalKey, value: value}
	c.data[key] = list
	c.totalValues++
}

// Gens returns gen and keysGen: equal results mean no key was added and
// no value list replaced or removed in between (Rampart fork).
func (c *Map) Gens() (uint64, uint64) { return c.gen, c.keysGen }
