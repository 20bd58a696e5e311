// Package rxdfa answers whether a regular expression matches an ASCII
// input with a lazily built DFA, in the manner of RE2's: the states (sets
// of the program's instructions) a search passes through are built the
// first time an input needs them and kept, so later inputs cost a table
// look-up per byte instead of Go's NFA simulation or backtracking over the
// whole program. The CRS's largest expressions (the command-injection
// rules' alternations of thousands of commands) are where this pays.
//
// Only whether there is a match is answered, not where: every thread is
// followed at once and the first to reach the match instruction decides,
// so leftmost-first priority plays no part. Inputs with a byte outside
// ASCII, and inputs that would need a state once the DFA's memory budget is
// spent, are not answered (ok false): the caller runs the regexp.
package rxdfa

import (
	"encoding/binary"
	"errors"
	"regexp/syntax"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultBudget     = 2 << 20
	DefaultResetAfter = time.Minute
)

// Options bound a DFA's memory.
type Options struct {
	// Budget is the memory, in bytes, the DFA may spend on states
	// (DefaultBudget when 0).
	Budget int
	// ResetAfter is how long a DFA whose budget is spent keeps its states
	// (and leaves inputs needing others to the regexp) before it drops
	// them and starts again (DefaultResetAfter when 0; negative: never).
	// Values an attack sends can fill a DFA; the traffic after it needs
	// other states. Dropping them at most this often bounds what inputs
	// made to need new states can cost.
	ResetAfter time.Duration
	// Shared, when set, is a budget every DFA given it draws its states
	// from as well, bounding them all together (a process compiles a
	// DFA per distinct pattern, custom rules' included).
	Shared *Budget
}

// Budget is memory, in bytes, that DFAs share (Options.Shared); safe for
// concurrent use.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a shared budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Used is the bytes the DFAs sharing b hold.
func (b *Budget) Used() int64 { return b.used.Load() }

// account is what one DFA holds of a shared budget; given back when the
// DFA drops its states or is collected.
type account struct {
	shared *Budget
	held   int64 // under the DFA's mu, or after it is unreachable
}

func (a *account) release() {
	a.shared.used.Add(-a.held)
	a.held = 0
}

// take reserves n bytes, false when they would exceed the limit.
func (b *Budget) take(n int64) bool {
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

// DFA is the lazily built automaton of one expression; safe for concurrent
// use. The zero value is not usable: see New.
type DFA struct {
	prog      *syntax.Prog
	anchored  bool // the program can only match from the input's start
	classOf   [128]uint8
	classByte []byte // a representative byte per class
	start     atomic.Pointer[state]
	opts      Options
	acct      *account // what it holds of opts.Shared, nil without

	mu     sync.Mutex // guards what follows, and the building of states
	states map[string]*state
	spent  int       // bytes of states built
	fullAt time.Time // when a state did not fit in the budget; zero: none
	resets int
	// scratch for closures (under mu)
	seen  []uint32 // per pc: the closure generation that reached it (made on first use)
	gen   uint32
	stack []uint32
	set   []uint32
	next  []uint32
}

// state is a set of the program's instructions (those a thread waits at
// after the bytes read so far, before the empty-width conditions of the
// next position are known) and what is known of the previous byte.
type state struct {
	pcs   []uint32
	flags uint8
	// next holds the state after a byte of each class: nil until built.
	next []atomic.Pointer[state]
	// end is whether the input may end here with a match: 0 not yet
	// known, 1 no, 2 yes.
	end atomic.Int32
}

const (
	flagStart  = 1 << iota // no byte read: ^ of the text and of a line hold
	flagPrevNL             // the previous byte is '\n': ^ of a line holds
	flagPrevW              // the previous byte is a word byte ([0-9A-Za-z_])
)

// Sentinels: a transition into matched means a match ends before the byte;
// into dead, that no match is possible any more.
var matched, dead = &state{}, &state{}

// New builds the DFA of re, parsed with the flags the regexp is compiled
// with.
func New(re *syntax.Regexp, opts Options) (*DFA, error) {
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	if opts.Budget <= 0 {
		opts.Budget = DefaultBudget
	}
	if opts.ResetAfter == 0 {
		opts.ResetAfter = DefaultResetAfter
	}
	d := &DFA{
		prog:     prog,
		anchored: prog.StartCond()&syntax.EmptyBeginText != 0,
		opts:     opts,
		states:   map[string]*state{},
	}
	d.buildClasses()
	if opts.Shared != nil {
		d.acct = &account{shared: opts.Shared}
		// A DFA whose pattern is no longer compiled (a custom rule
		// changed) gives its states back to the shared budget.
		runtime.AddCleanup(d, (*account).release, d.acct)
	}
	start := d.intern(d.startPCs(), flagStart, true)
	if start == nil {
		return nil, errors.New("rxdfa: the start state exceeds the budget")
	}
	d.start.Store(start)
	return d, nil
}

func (d *DFA) startPCs() []uint32 { return []uint32{uint32(d.prog.Start)} }

func isWordByte(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// buildClasses partitions the ASCII bytes into classes every instruction,
// and every empty-width condition, treats alike: bytes of a class lead
// every state to the same next state.
func (d *DFA) buildClasses() {
	// Each distinct set of bytes that some instruction (or condition)
	// accepts refines the partition.
	var word, nl [2]uint64
	for b := range 128 {
		if isWordByte(byte(b)) {
			word[b>>6] |= 1 << (b & 63)
		}
	}
	nl[0] = 1 << '\n'
	sets := map[[2]uint64]bool{word: true, nl: true}
	seenRunes := map[string]bool{}
	for i := range d.prog.Inst {
		in := &d.prog.Inst[i]
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1:
			key := string(binary.LittleEndian.AppendUint32(runesKey(in.Rune), uint32(in.Arg)&uint32(syntax.FoldCase)|uint32(in.Op)<<8))
			if seenRunes[key] {
				continue
			}
			seenRunes[key] = true
			var m [2]uint64
			for b := range 128 {
				if matchByte(in, byte(b)) {
					m[b>>6] |= 1 << (b & 63)
				}
			}
			sets[m] = true
		}
	}
	// Refine: a byte's class is the list of sets it belongs to.
	var class [128]int
	for m := range sets {
		split := map[[2]int]int{}
		for b := range 128 {
			in := 0
			if m[b>>6]&(1<<(b&63)) != 0 {
				in = 1
			}
			k := [2]int{class[b], in}
			c, ok := split[k]
			if !ok {
				c = len(split)
				split[k] = c
			}
			class[b] = c
		}
	}
	// Number the classes by their first byte, for a stable order.
	renum := map[int]int{}
	for b := range 128 {
		c, ok := renum[class[b]]
		if !ok {
			c = len(renum)
			renum[class[b]] = c
			d.classByte = append(d.classByte, byte(b))
		}
		d.classOf[b] = uint8(c)
	}
}

func runesKey(r []rune) []byte {
	b := make([]byte, 0, 4*len(r)+4)
	for _, x := range r {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

// matchByte reports whether the rune instruction in consumes the ASCII
// byte b.
func matchByte(in *syntax.Inst, b byte) bool {
	switch in.Op {
	case syntax.InstRuneAny:
		return true
	case syntax.InstRuneAnyNotNL:
		return b != '\n'
	default:
		return in.MatchRune(rune(b))
	}
}

// Match reports whether the expression matches s; ok is false when it is
// not known (s holds a byte outside ASCII, or the budget is spent), and
// the caller must run the regexp.
func (d *DFA) Match(s string) (match, ok bool) {
	st := d.start.Load()
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b >= 0x80 {
			return false, false
		}
		c := d.classOf[b]
		ns := st.next[c].Load()
		if ns == nil {
			if ns = d.step(st, c); ns == nil {
				return false, false
			}
		}
		switch ns {
		case matched:
			return true, true
		case dead:
			return false, true
		}
		st = ns
	}
	switch st.end.Load() {
	case 1:
		return false, true
	case 2:
		return true, true
	}
	return d.endMatch(st), true
}

// Full reports whether the budget is spent: inputs needing a new state
// are not answered until the DFA starts again (Options.ResetAfter).
func (d *DFA) Full() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.fullAt.IsZero()
}

// Stats is how many states are built, their bytes, and how many times the
// DFA dropped its states.
func (d *DFA) Stats() (states, bytes, resets int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.states), d.spent, d.resets
}

// conds is the empty-width conditions holding between the byte before
// (flags) and b; next < 0 is the end of the input.
func conds(flags uint8, next int) syntax.EmptyOp {
	var op syntax.EmptyOp
	if flags&flagStart != 0 {
		op |= syntax.EmptyBeginText | syntax.EmptyBeginLine
	}
	if flags&flagPrevNL != 0 {
		op |= syntax.EmptyBeginLine
	}
	nextWord := false
	if next < 0 {
		op |= syntax.EmptyEndText | syntax.EmptyEndLine
	} else {
		if next == '\n' {
			op |= syntax.EmptyEndLine
		}
		nextWord = isWordByte(byte(next))
	}
	if nextWord != (flags&flagPrevW != 0) {
		op |= syntax.EmptyWordBoundary
	} else {
		op |= syntax.EmptyNoWordBoundary
	}
	return op
}

// closure follows, from pcs, every instruction that consumes nothing and
// whose condition op satisfies; it leaves the rune instructions reached in
// d.set and reports whether the match instruction was reached. d.mu held.
func (d *DFA) closure(pcs []uint32, op syntax.EmptyOp) bool {
	if d.seen == nil {
		d.seen = make([]uint32, len(d.prog.Inst))
	}
	d.gen++
	if d.gen == 0 { // wrapped: clear the marks
		clear(d.seen)
		d.gen = 1
	}
	d.set = d.set[:0]
	d.stack = append(d.stack[:0], pcs...)
	for len(d.stack) > 0 {
		pc := d.stack[len(d.stack)-1]
		d.stack = d.stack[:len(d.stack)-1]
		if d.seen[pc] == d.gen {
			continue
		}
		d.seen[pc] = d.gen
		in := &d.prog.Inst[pc]
		switch in.Op {
		case syntax.InstMatch:
			return true
		case syntax.InstFail:
		case syntax.InstAlt, syntax.InstAltMatch:
			d.stack = append(d.stack, in.Arg, in.Out)
		case syntax.InstCapture, syntax.InstNop:
			d.stack = append(d.stack, in.Out)
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^op == 0 {
				d.stack = append(d.stack, in.Out)
			}
		default: // the rune instructions
			d.set = append(d.set, pc)
		}
	}
	return false
}

// step builds the transition of st on the bytes of class c; nil when the
// new state does not fit in the budget.
func (d *DFA) step(st *state, c uint8) *state {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ns := st.next[c].Load(); ns != nil {
		return ns // built meanwhile
	}
	b := d.classByte[c]
	ns := d.transition(st, b)
	if ns == nil {
		return nil
	}
	st.next[c].Store(ns)
	return ns
}

// transition computes (and interns) the state after st reads b. d.mu held.
func (d *DFA) transition(st *state, b byte) *state {
	if d.closure(st.pcs, conds(st.flags, int(b))) {
		return matched
	}
	d.next = d.next[:0]
	for _, pc := range d.set {
		in := &d.prog.Inst[pc]
		if matchByte(in, b) {
			d.next = append(d.next, in.Out)
		}
	}
	if !d.anchored {
		// A match may also begin after b.
		d.next = append(d.next, uint32(d.prog.Start))
	}
	if len(d.next) == 0 {
		return dead
	}
	var flags uint8
	if b == '\n' {
		flags |= flagPrevNL
	}
	if isWordByte(b) {
		flags |= flagPrevW
	}
	slices.Sort(d.next)
	return d.intern(slices.Compact(d.next), flags, false)
}

// intern returns the state of pcs and flags, building it if it is new;
// nil when it does not fit in the budget, unless start (the start state
// is built whatever the shared budget holds, so that a DFA always has
// one). d.mu held.
func (d *DFA) intern(pcs []uint32, flags uint8, start bool) *state {
	key := make([]byte, 1, 1+4*len(pcs))
	key[0] = flags
	for _, pc := range pcs {
		key = binary.LittleEndian.AppendUint32(key, pc)
	}
	if st, ok := d.states[string(key)]; ok {
		return st
	}
	// The state's tables, its key twice (map and pcs), map overhead.
	cost := len(d.classByte)*8 + 2*len(key) + 96
	if d.spent+cost > d.opts.Budget || !d.takeShared(cost, start) {
		now := time.Now()
		if d.fullAt.IsZero() {
			d.fullAt = now
		}
		if d.opts.ResetAfter < 0 || now.Sub(d.fullAt) < d.opts.ResetAfter {
			return nil
		}
		d.reset()
		if !d.takeShared(cost, start) {
			return nil // the others hold the shared budget
		}
	}
	d.spent += cost
	st := &state{pcs: slices.Clone(pcs), flags: flags, next: make([]atomic.Pointer[state], len(d.classByte))}
	d.states[string(key)] = st
	return st
}

// takeShared reserves cost bytes of the shared budget, if there is one,
// even beyond its limit when force. d.mu held.
func (d *DFA) takeShared(cost int, force bool) bool {
	if d.acct == nil {
		return true
	}
	if force {
		d.acct.shared.used.Add(int64(cost))
	} else if !d.acct.shared.take(int64(cost)) {
		return false
	}
	d.acct.held += int64(cost)
	return true
}

// reset drops every state and starts again. Searches under way keep the
// states they hold (immutable but for their transitions, which may come to
// lead into the new set); new searches begin at a new start state. d.mu
// held.
func (d *DFA) reset() {
	if d.acct != nil {
		d.acct.release()
	}
	d.states = map[string]*state{}
	d.spent = 0
	d.fullAt = time.Time{}
	d.resets++
	if start := d.intern(d.startPCs(), flagStart, true); start != nil {
		d.start.Store(start)
	}
}

// endMatch reports whether the input ending after st has a match, and
// remembers it in st.
func (d *DFA) endMatch(st *state) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.closure(st.pcs, conds(st.flags, -1))
	if m {
		st.end.Store(2)
	} else {
		st.end.Store(1)
	}
	return m
}
