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
// while keysGen is the same too. A slot never filled says "absent" at
// gen and keysGen 0, which is right: no key was ever added.
type idSlot struct {
	gen, keysGen uint64
	values       []keyValue
	present      bool
}

// lookupID is lookup for key, lower case, whose KeyID is id: its values
// and whether it is there.
func (c *Map) lookupID(id int32, key string) ([]keyValue, bool) {
	if c.isCaseSensitive || id <= 0 || id >= maxKeyIDs {
		values, _, ok := c.lookup(key)
		return values, ok
	}
	if int(id) < len(c.ids) {
		if s := &c.ids[id]; s.gen == c.gen && (s.present || s.keysGen == c.keysGen) {
			return s.values, s.present
		}
	} else {
		c.ids = append(c.ids, make([]idSlot, int(id)+1-len(c.ids))...)
	}
	values, ok := c.data[key]
	c.ids[id] = idSlot{gen: c.gen, keysGen: c.keysGen, values: values, present: ok}
	return values, ok
}

// FindStringIDInto is FindStringInto(key) for key, lower case, whose
// KeyID is id.
func (c *Map) FindStringIDInto(id int32, key string, md *corazarules.MatchData) int {
	if key == "" || len(c.data) == 0 {
		return c.FindStringInto(key, md)
	}
	e, _ := c.lookupID(id, key)
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
	values, _ := c.lookupID(id, key)
	if len(values) == 0 {
		return "", false
	}
	return values[0].value, true
}

// SetOneID is SetOne(key, value) for key, lower case, whose KeyID is id.
func (c *Map) SetOneID(id int32, key string, value string) {
	c.writes++
	switch values, ok := c.lookupID(id, key); {
	case len(values) == 1:
		values[0] = keyValue{key: key, value: value} // in place, as SetOne
	case !ok:
		c.addOne(key, key, value) // as SetOne, without looking key up again
	default:
		c.SetOne(key, value)
	}
}

// AddNew is SetOne(key, value) for key, lower case, that c does not
// have: no look-up (Rampart fork: a static run's copy in a pristine TX).
func (c *Map) AddNew(key string, value string) {
	c.writes++
	c.addOne(key, key, value)
}

// addOne adds key, the key to file it under and not in c, with its one
// value (originalKey as given): SetOne for a new key. The caller counts
// the write.
func (c *Map) addOne(key, originalKey, value string) {
	c.keysGen++
	c.order = append(c.order, key)
	c.data[key] = c.newList(keyValue{key: originalKey, value: value})
	c.totalValues++
}

// Writes counts the Map's changes: an equal count means nothing in it
// changed in between, not even a value replaced in place (Rampart fork).
func (c *Map) Writes() uint64 { return c.writes }

// Gens returns gen and keysGen: equal results mean no key was added and
// no value list replaced or removed in between (Rampart fork).
func (c *Map) Gens() (uint64, uint64) { return c.gen, c.keysGen }
