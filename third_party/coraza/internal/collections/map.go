// Copyright 2023 Juan Pablo Tosso and the OWASP Coraza contributors
// SPDX-License-Identifier: Apache-2.0

package collections

import (
	"regexp"
	"slices"
	"strings"

	"github.com/corazawaf/coraza/v3/collection"
	"github.com/corazawaf/coraza/v3/internal/corazarules"
	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// Map is a default collection.Map.
type Map struct {
	isCaseSensitive bool
	data            map[string][]keyValue
	variable        variables.RuleVariable
	// totalValues tracks TotalValues incrementally so it stays O(1) to read;
	// summing len(values) across every key on each call made checkArgumentLimit
	// (called once per Add) quadratic in the number of distinct keys.
	totalValues int
	// gen changes whenever a method may have replaced or removed a key's
	// value list; not when a value is replaced in place (Rampart fork:
	// KeySlots, lookupID). keysGen changes whenever a key is added.
	gen     uint64
	keysGen uint64
	// A new key's value list is cut from arena: one value, without room
	// for a second (which moves the list), and Reset takes them all back
	// at once (Rampart fork: MATCHED_VARS is reset and given one value for
	// every rule match, and the pooled transaction's TX is reset and given
	// ~50 keys by setvar). arena[:used] are handed out; no method hands a
	// list out of the Map, so none is seen again after Reset. A Map that
	// ran out (short) gets a larger arena at Reset, up to maxArena.
	arena []keyValue
	used  int
	short bool
	// ids remembers where the values of keys with a KeyID are, by id
	// (Rampart fork: lookupID).
	ids []idSlot
	// writes counts every change of the Map, values replaced in place
	// included (Rampart fork: Writes).
	writes uint64
	// order holds data's keys, each once, in the order they were added
	// (Rampart fork: FindRegexLiteral walks it rather than the map; the
	// CRS matches a key regexp against every TX variable twice a request).
	order []string
}

// maxArena bounds a Map's arena (a request with many keys leaves no
// large arena behind in the pooled transaction).
const maxArena = 256

// newList returns a list holding v, from the arena while it lasts.
func (c *Map) newList(v keyValue) []keyValue {
	if c.used < len(c.arena) {
		l := c.arena[c.used : c.used+1 : c.used+1]
		c.used++
		l[0] = v
		return l
	}
	c.short = true
	return []keyValue{v}
}

// appendValue appends v to key's values, to a new list when key has
// none (Rampart fork).
func (c *Map) appendValue(key string, v keyValue) {
	c.writes++
	values, ok := c.data[key]
	if ok {
		c.gen++ // the append may move the list
		c.data[key] = append(values, v)
		return
	}
	c.keysGen++
	c.order = append(c.order, key)
	c.data[key] = c.newList(v)
}

var _ collection.Map = &Map{}

// NewMap creates a new Map. By default, the Map key is case insensitive.
func NewMap(variable variables.RuleVariable) *Map {
	return &Map{
		isCaseSensitive: false,
		variable:        variable,
		data:            map[string][]keyValue{},
	}
}

// NewCaseSensitiveKeyMap creates a new Map with case sensitive keys.
func NewCaseSensitiveKeyMap(variable variables.RuleVariable) *Map {
	return &Map{
		isCaseSensitive: true,
		variable:        variable,
		data:            map[string][]keyValue{},
	}
}

func (c *Map) Get(key string) []string {
	if len(c.data) == 0 {
		return nil
	}
	if !c.isCaseSensitive {
		key = lowerKey(key)
	}
	values := c.data[key]
	if len(values) == 0 {
		return nil
	}
	result := make([]string, len(values))
	for i, v := range values {
		result[i] = v.value
	}
	return result
}

// FindRegex returns all map elements whose key matches the regular expression.
func (c *Map) FindRegex(key *regexp.Regexp) []types.MatchData {
	return c.FindRegexLiteral(key, "", false) // Rampart fork: one loop for both
}

// FindString returns all map elements whose key matches the string.
func (c *Map) FindString(key string) []types.MatchData {
	if key == "" {
		return c.FindAll()
	}
	if len(c.data) == 0 {
		return nil
	}
	if !c.isCaseSensitive {
		key = lowerKey(key)
	}
	e, ok := c.data[key]
	if !ok || len(e) == 0 {
		return nil
	}
	if len(e) == 1 {
		// Rampart fork: one allocation for the common single value.
		return OneMatch(c.variable, e[0].key, e[0].value)
	}
	buf := make([]corazarules.MatchData, len(e))
	result := make([]types.MatchData, len(e))
	for i, aVar := range e {
		buf[i] = corazarules.MatchData{
			Variable_: c.variable,
			Key_:      aVar.key,
			Value_:    aVar.value,
		}
		result[i] = &buf[i]
	}
	return result
}

// FindAll returns all map elements.
func (c *Map) FindAll() []types.MatchData {
	n := 0
	for _, data := range c.data {
		n += len(data)
	}
	if n == 0 {
		return nil
	}
	buf := make([]corazarules.MatchData, n)
	result := make([]types.MatchData, n)
	i := 0
	for _, data := range c.data {
		for _, d := range data {
			buf[i] = corazarules.MatchData{
				Variable_: c.variable,
				Key_:      d.key,
				Value_:    d.value,
			}
			result[i] = &buf[i]
			i++
		}
	}
	return result
}

// Add adds a new key-value pair to the map.
func (c *Map) Add(key string, value string) {
	aVal := keyValue{key: key, value: value}
	if !c.isCaseSensitive {
		key = lowerKey(key)
	}
	c.appendValue(key, aVal)
	c.totalValues++
}

// Sets the value of a key with the array of strings passed. If the key already exists, it will be overwritten.
func (c *Map) Set(key string, values []string) {
	c.writes++
	originalKey := key
	if !c.isCaseSensitive {
		key = lowerKey(key)
	}
	dataSlice, exists := c.data[key]
	if exists {
		c.gen++
	} else {
		c.keysGen++
		c.order = append(c.order, key)
	}
	oldLen := len(dataSlice)
	if !exists || cap(dataSlice) < len(values) {
		dataSlice = make([]keyValue, len(values))
	} else {
		dataSlice = dataSlice[:len(values)] // Reuse existing slice with the same length
	}
	for i, v := range values {
		dataSlice[i] = keyValue{key: originalKey, value: v}
	}
	c.data[key] = dataSlice
	c.totalValues += len(values) - oldLen
}

// SetOne is Set(key, []string{value}) without the slice (Rampart fork:
// setvar).
func (c *Map) SetOne(key string, value string) {
	c.writes++
	originalKey := key
	dataSlice, key, exists := c.lookup(key)
	oldLen := len(dataSlice)
	if oldLen == 1 {
		// Rampart fork: the key's one value replaced where it is, without
		// storing the same list again (setvar updates the CRS's scores):
		// the list stays, and gen too.
		dataSlice[0] = keyValue{key: originalKey, value: value}
		return
	}
	if !exists {
		// Rampart fork: a new key's list comes from the arena
		// (setvar creates the CRS's ~50 TX variables per request).
		c.addOne(key, originalKey, value)
		return
	}
	c.gen++
	if cap(dataSlice) < 1 {
		dataSlice = make([]keyValue, 1)
	} else {
		dataSlice = dataSlice[:1]
	}
	dataSlice[0] = keyValue{key: originalKey, value: value}
	c.data[key] = dataSlice
	c.totalValues += 1 - oldLen
}

// SetIndex sets the value of a key at the specified index. If the key already exists, it will be overwritten.
func (c *Map) SetIndex(key string, index int, value string) {
	c.writes++
	originalKey := key
	if !c.isCaseSensitive {
		key = lowerKey(key)
	}
	values, exists := c.data[key]
	av := keyValue{key: originalKey, value: value}

	switch {
	case len(values) == 0:
		if exists {
			c.gen++
		} else {
			c.keysGen++
			c.order = append(c.order, key)
		}
		c.data[key] = c.newList(av)
		c.totalValues++
	case len(values) <= index:
		c.gen++
		c.data[key] = append(c.data[key], av)
		c.totalValues++
	default:
		c.data[key][index] = av // Rampart fork: in place, the list and gen stay
	}
}

// GetFirst returns Get(key)[0], true, or "", false when Get(key) is
// empty, without building the slice (Rampart fork: macro expansion).
func (c *Map) GetFirst(key string) (string, bool) {
	if len(c.data) == 0 {
		return "", false
	}
	values, _, _ := c.lookup(key)
	if len(values) == 0 {
		return "", false
	}
	return values[0].value, true
}

// OneMatch returns a one-element match list holding a MatchData with these
// fields, made with one allocation (Rampart fork).
func OneMatch(v variables.RuleVariable, key, value string) []types.MatchData {
	o := &oneMatch{md: corazarules.MatchData{Variable_: v, Key_: key, Value_: value}}
	o.list[0] = &o.md
	return o.list[:]
}

type oneMatch struct {
	md   corazarules.MatchData
	list [1]types.MatchData
}

// AddLower is Add(key, value) given lowerKey, strings.ToLower(key)
// (Rampart fork: the caller lower-cases without allocating twice).
func (c *Map) AddLower(key, lowerKey, value string) {
	aVal := keyValue{key: key, value: value}
	if c.isCaseSensitive {
		lowerKey = key
	}
	c.appendValue(lowerKey, aVal)
	c.totalValues++
}

// SetFirstLower is SetIndex(key, 0, value) for a key that is already lower
// case: one map lookup when the key has a value (Rampart fork; the engine
// sets the RULE collection's fixed keys for every rule it evaluates).
func (c *Map) SetFirstLower(key string, value string) {
	if values := c.data[key]; len(values) > 0 {
		c.writes++
		values[0] = keyValue{key: key, value: value}
		return
	}
	c.SetIndex(key, 0, value)
}

// KeySlots remembers where the first values of a few keys of one Map are
// stored, so that SetFirst costs no map lookup while the Map's keys are
// unchanged (Rampart fork: the engine sets the RULE collection's fixed
// fields for every rule it evaluates). The zero value is ready to use.
type KeySlots struct {
	m   *Map
	gen uint64
	kv  [8]*keyValue
}

// SetFirst is c.SetFirstLower(key, value), key lower case; i (< 8)
// names key: a KeySlots must use the same i for the same key.
func (s *KeySlots) SetFirst(c *Map, i int, key string, value string) {
	if s.m == c && s.gen == c.gen {
		if p := s.kv[i]; p != nil {
			*p = keyValue{key: key, value: value}
			c.writes++
			return
		}
	}
	c.SetFirstLower(key, value)
	if s.m != c || s.gen != c.gen {
		*s = KeySlots{m: c, gen: c.gen}
	}
	if values := c.data[key]; len(values) > 0 {
		s.kv[i] = &values[0]
	}
}

// Remove removes a key/value from the map.
func (c *Map) Remove(key string) {
	c.writes++
	c.gen++
	if !c.isCaseSensitive {
		key = lowerKey(key)
	}
	if len(c.data) == 0 {
		return
	}
	if _, ok := c.data[key]; ok {
		c.order = slices.DeleteFunc(c.order, func(k string) bool { return k == key })
	}
	c.totalValues -= len(c.data[key])
	delete(c.data, key)
}

// Name returns the name of the map/collection.
func (c *Map) Name() string {
	return c.variable.Name()
}

// Reset removes all key/value pairs from the map.
func (c *Map) Reset() {
	c.writes++
	c.gen++
	clear(c.order)
	c.order = c.order[:0]
	clear(c.data)
	clear(c.arena[:c.used]) // the values may be collected
	c.used = 0
	if c.short {
		c.short = false
		if n := max(4, 2*len(c.arena)); n <= maxArena {
			c.arena = make([]keyValue, n)
		}
	}
	c.totalValues = 0
}

// Format updates the passed strings.Builder with the formatted map key/values.
func (c *Map) Format(res *strings.Builder) {
	res.WriteString(c.variable.Name())
	res.WriteString(":\n")
	for k, v := range c.data {
		res.WriteString("    ")
		res.WriteString(k)
		res.WriteString(": ")
		for i, vv := range v {
			if i > 0 {
				res.WriteString(",")
			}
			res.WriteString(vv.value)
		}
		res.WriteByte('\n')
	}
}

// String returns a string representation of the map key/values.
func (c *Map) String() string {
	res := strings.Builder{}
	c.Format(&res)
	return res.String()
}

// Len returns the number of distinct keys in the map. A key holding several
// values (via repeated Add calls) is counted once -- use TotalValues to count
// every individual value instead.
func (c *Map) Len() int {
	return len(c.data)
}

// TotalValues returns the total number of individual values across every key
// in the map, unlike Len which only counts distinct keys. O(1): the count is
// maintained incrementally by Add/Set/SetIndex/Remove/Reset rather than
// recomputed here, since checkArgumentLimit calls this once per value added
// and a per-call walk over every distinct key made that quadratic.
func (c *Map) TotalValues() int {
	return c.totalValues
}

// keyValue stores the case preserved original key and value
// of the variable
type keyValue struct {
	key   string
	value string
}
