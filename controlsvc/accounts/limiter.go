package accounts

import (
	"sync"
	"time"
)

// Limiter bounds failed sign-ins per key (a client address, a user name):
// after Max failures within Window the key is refused until the oldest
// failure leaves the window. Memory is bounded by MaxKeys.
type Limiter struct {
	Max     int
	Window  time.Duration
	MaxKeys int
	now     func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time
}

// NewLimiter allows max failures per window per key.
func NewLimiter(max int, window time.Duration) *Limiter {
	return &Limiter{Max: max, Window: window, MaxKeys: 100000, now: time.Now, failures: map[string][]time.Time{}}
}

// Allow reports whether key may try again now, and if not, how long to wait.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.prune(key, now)
	if len(f) < l.Max {
		return true, 0
	}
	return false, f[0].Add(l.Window).Sub(now)
}

// Fail records a failed attempt by key.
func (l *Limiter) Fail(key string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.failures[key]; !ok && len(l.failures) >= l.MaxKeys {
		for k := range l.failures {
			l.prune(k, now)
		}
		// Still full of recent failures: forget an arbitrary key rather
		// than grow without bound.
		for k := range l.failures {
			if len(l.failures) < l.MaxKeys {
				break
			}
			delete(l.failures, k)
		}
	}
	f := append(l.prune(key, now), now)
	if len(f) > l.Max {
		f = f[len(f)-l.Max:]
	}
	l.failures[key] = f
}

// Reset forgets key's failures (after a successful sign-in).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.failures, key)
	l.mu.Unlock()
}

// prune drops failures older than the window; l.mu is held.
func (l *Limiter) prune(key string, now time.Time) []time.Time {
	f := l.failures[key]
	i := 0
	for i < len(f) && now.Sub(f[i]) >= l.Window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = f
	return f
}
