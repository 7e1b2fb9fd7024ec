package dashboard

import (
	"time"

	"github.com/heraldpay/herald/delivery"
)

// ErrNotFound is delivery.ErrNotFound: the read model, the session store
// and the delivery services report a missing object alike.
var ErrNotFound = delivery.ErrNotFound

// Session is a signed-in operator. It ends at IdleExpires (pushed back by
// activity) or at Expires (fixed at sign-in), whichever comes first.
type Session struct {
	// ID is public (dss_…): the audit log names sessions by it. The cookie
	// carries a different, secret token.
	ID        string
	Operator  string
	CSRFToken string
	ClientIP  string
	UserAgent string
	Created   time.Time
	LastSeen  time.Time
	// IdleExpires is LastSeen plus the idle timeout, never after Expires.
	IdleExpires time.Time
	Expires     time.Time
}

// SessionTimeouts bound a session's life.
type SessionTimeouts struct {
	// Idle ends a session without activity for this long. Default 1h.
	Idle time.Duration
	// Max ends any session this long after sign-in. Default 12h.
	Max time.Duration
}

func (t SessionTimeouts) withDefaults() SessionTimeouts {
	if t.Idle <= 0 {
		t.Idle = time.Hour
	}
	if t.Max <= 0 {
		t.Max = 12 * time.Hour
	}
	return t
}

// touchEvery is how stale LastSeen may get before activity is written
// back: once a minute per session, not once per request.
const touchEvery = time.Minute

// newSession starts a session at now.
func newSession(id, operator, csrfToken, clientIP, userAgent string, now time.Time, t SessionTimeouts) *Session {
	s := &Session{ID: id, Operator: operator, CSRFToken: csrfToken, ClientIP: clientIP, UserAgent: userAgent,
		Created: now, Expires: now.Add(t.Max)}
	s.seen(now, t)
	return s
}

// Active reports whether s is still valid at now.
func (s *Session) Active(now time.Time) bool {
	return now.Before(s.IdleExpires) && now.Before(s.Expires)
}

// touch records activity at now and reports whether it is worth writing.
func (s *Session) touch(now time.Time, t SessionTimeouts) bool {
	if now.Sub(s.LastSeen) < touchEvery {
		return false
	}
	s.seen(now, t)
	return true
}

func (s *Session) seen(now time.Time, t SessionTimeouts) {
	s.LastSeen = now
	s.IdleExpires = now.Add(t.Idle)
	if s.IdleExpires.After(s.Expires) {
		s.IdleExpires = s.Expires
	}
}
