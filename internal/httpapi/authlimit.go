package httpapi

import (
	"net/netip"
	"sync"
	"time"
)

// Defaults of AuthFailuresConfig.
const (
	DefaultAuthFailureLimit   = 30
	DefaultAuthFailureWindow  = time.Minute
	DefaultAuthFailureClients = 100_000
)

// AuthFailuresConfig configures NewAuthFailures. Zero fields take the
// defaults given.
type AuthFailuresConfig struct {
	// Limit is how many failed authentications a client may have in one
	// window; from then on every request it sends is refused until the
	// window ends. Default DefaultAuthFailureLimit (30).
	Limit int
	// Window is how long failures are counted from a client's first one.
	// Default DefaultAuthFailureWindow (a minute).
	Window time.Duration
	// MaxClients bounds the clients tracked at once, so that failures from
	// a great many addresses cannot grow memory without end. Default
	// DefaultAuthFailureClients (100,000, a few MB).
	MaxClients int
	// Now returns the current time. Default time.Now; tests set it.
	Now func() time.Time
}

func (c AuthFailuresConfig) withDefaults() AuthFailuresConfig {
	if c.Limit <= 0 {
		c.Limit = DefaultAuthFailureLimit
	}
	if c.Window <= 0 {
		c.Window = DefaultAuthFailureWindow
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultAuthFailureClients
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// AuthFailures counts failed authentications (a missing or invalid key) per
// client, so that RequireKey can refuse a client that is guessing keys
// before it costs a key lookup. A client is an IPv4 address or an IPv6 /64,
// the block one host is usually given. Counts are per process and kept in
// memory; it is safe for concurrent use.
type AuthFailures struct {
	cfg       AuthFailuresConfig
	mu        sync.Mutex
	clients   map[netip.Prefix]*failureWindow
	lastSweep time.Time
}

// failureWindow is one client's failures since start.
type failureWindow struct {
	start time.Time
	count int
}

// NewAuthFailures returns an empty AuthFailures.
func NewAuthFailures(cfg AuthFailuresConfig) *AuthFailures {
	return &AuthFailures{cfg: cfg.withDefaults(), clients: map[netip.Prefix]*failureWindow{}}
}

// Blocked reports whether addr's client has used up its failures in the
// current window, and if so how long until the window ends.
func (a *AuthFailures) Blocked(addr netip.Addr) (time.Duration, bool) {
	now := a.cfg.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	w, ok := a.clients[clientKey(addr)]
	if !ok || w.count < a.cfg.Limit {
		return 0, false
	}
	wait := w.start.Add(a.cfg.Window).Sub(now)
	return wait, wait > 0
}

// Fail records a failed authentication by addr's client.
func (a *AuthFailures) Fail(addr netip.Addr) {
	now := a.cfg.Now()
	key := clientKey(addr)
	a.mu.Lock()
	defer a.mu.Unlock()
	w, ok := a.clients[key]
	switch {
	case ok && now.Sub(w.start) < a.cfg.Window:
		w.count++
	case ok:
		*w = failureWindow{start: now, count: 1}
	default:
		if len(a.clients) >= a.cfg.MaxClients && !a.sweep(now) {
			// Full of clients still inside their window: this one goes
			// uncounted rather than evicting one that is being limited.
			return
		}
		a.clients[key] = &failureWindow{start: now, count: 1}
	}
}

// sweep drops the clients whose window has ended and reports whether that
// made room. It runs at most once per second: a full map under a flood of
// new addresses must not turn every failure into a pass over all of them.
func (a *AuthFailures) sweep(now time.Time) bool {
	if now.Sub(a.lastSweep) < time.Second {
		return false
	}
	a.lastSweep = now
	for k, w := range a.clients {
		if now.Sub(w.start) >= a.cfg.Window {
			delete(a.clients, k)
		}
	}
	return len(a.clients) < a.cfg.MaxClients
}

// clientKey is the unit limited: an IPv4 address, or the /64 around an
// IPv6 one (a single host commonly holds a whole /64). An unreadable
// address shares the zero key.
func clientKey(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p
	}
	return netip.PrefixFrom(addr, addr.BitLen())
}
