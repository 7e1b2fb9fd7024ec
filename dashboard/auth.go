package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/httprate"

	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/id"
)

// Operators share one password (HERALD_DASHBOARD_PASSWORD) and say who they
// are when they sign in; the name, the session id, the client IP and the
// user agent go into the audit log with every action.
//
// The password is kept only as an HMAC-SHA256 digest under a key derived
// from the server secret and compared in constant time. A session is a row
// in Postgres (any Herald process can serve it) keyed by the SHA-256 of a
// random cookie token; the cookie is HttpOnly, SameSite=Strict, limited to
// /dashboard, and Secure over https.

const (
	sessionCookie = "herald_dashboard"
	// signInCookie binds the sign-in form's token to the browser before
	// there is a session.
	signInCookie = "herald_dashboard_signin"
	cookiePath   = "/dashboard"
	// maxFormBytes bounds every posted form; the largest is under 1 KiB.
	maxFormBytes = 16 << 10
	// maxOperatorLen bounds the name given at sign-in.
	maxOperatorLen = 64
)

type ctxKey int

const sessionKey ctxKey = iota

// sessionFrom returns the signed-in operator's session, or nil.
func sessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey).(*Session)
	return s
}

// passwordDigest is the keyed digest the password is compared by.
func passwordDigest(key []byte, password string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("herald dashboard password\x00"))
	m.Write([]byte(password))
	return m.Sum(nil)
}

// passwordMatches compares digests in constant time: both are 32 bytes,
// so neither the password's length nor its content shows in the timing.
func (d *Dashboard) passwordMatches(password string) bool {
	return subtle.ConstantTimeCompare(passwordDigest(d.cfg.Key, password), d.digest) == 1
}

// tokenDigest is how a session token is stored.
func tokenDigest(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// clientIP is the client's address for the sign-in limit, the audit log
// and sessions: the connection's, or, behind trusted proxies, the one they
// forwarded (httpapi.ClientAddr). "" when it cannot be read.
func clientIP(r *http.Request) string {
	a := httpapi.ClientAddr(r)
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// userAgent is the request's User-Agent, bounded for the audit log.
func userAgent(r *http.Request) string {
	ua := strings.ToValidUTF8(r.UserAgent(), "")
	if len(ua) > 300 {
		ua = ua[:300]
	}
	return ua
}

// signInLimiter allows SignInRate sign-in attempts per client IP per
// minute (per process) and answers the sign-in page with 429 beyond.
func (d *Dashboard) signInLimiter() func(http.Handler) http.Handler {
	return httprate.LimitBy(d.cfg.SignInRate, time.Minute,
		func(r *http.Request) (string, error) { return clientIP(r), nil },
		httprate.WithLimitHandler(func(w http.ResponseWriter, r *http.Request) {
			d.renderSignIn(w, r, http.StatusTooManyRequests, signInView{
				Error: "Too many sign-in attempts from your address. Wait a minute, then try again.",
				Next:  "/dashboard/",
			})
		}),
	)
}

// signInView is the sign-in page's data.
type signInView struct {
	Operator string
	Next     string
	Token    string
	Error    string
}

func (d *Dashboard) renderSignIn(w http.ResponseWriter, r *http.Request, status int, v signInView) {
	v.Token = d.signInToken(w, r)
	d.pages.render(w, r, status, "signin", view{Title: "Sign in", Notice: noticeFor(r.URL.Query().Get("notice")), Data: v})
}

func (d *Dashboard) handleSignInPage(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if s, _, err := d.session(r); err == nil && s != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	d.renderSignIn(w, r, http.StatusOK, signInView{Next: next})
}

func (d *Dashboard) handleSignIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		d.renderSignIn(w, r, http.StatusBadRequest, signInView{Error: "The form could not be read. Try again."})
		return
	}
	v := signInView{Operator: strings.TrimSpace(r.PostFormValue("operator")), Next: safeNext(r.PostFormValue("next"))}
	if !d.signInTokenValid(r) {
		v.Error = "This sign-in form has expired, or your browser refuses cookies. Try again."
		d.renderSignIn(w, r, http.StatusForbidden, v)
		return
	}
	if msg := validOperator(v.Operator); msg != "" {
		v.Error = msg
		d.renderSignIn(w, r, http.StatusUnprocessableEntity, v)
		return
	}
	entry := &AuditEntry{At: d.cfg.Now(), Operator: v.Operator, ClientIP: clientIP(r), UserAgent: userAgent(r)}
	if !d.passwordMatches(r.PostFormValue("password")) {
		entry.Action, entry.Outcome, entry.Result = ActionSignInFailed, OutcomeFailed, "wrong password"
		if _, err := d.cfg.Audit.RecordAudit(r.Context(), entry); err != nil {
			d.serverError(w, r, err)
			return
		}
		v.Error = "That password is not right."
		d.renderSignIn(w, r, http.StatusUnauthorized, v)
		return
	}

	// A fresh token at every sign-in: a token planted before it is useless.
	if old, _, err := d.session(r); err == nil && old != nil {
		if err := d.cfg.Sessions.DeleteSession(r.Context(), old.ID); err != nil {
			d.serverError(w, r, err)
			return
		}
	}
	token := id.Random(43)
	s := newSession(id.New("dss"), v.Operator, id.Random(32), entry.ClientIP, entry.UserAgent, entry.At, d.cfg.Timeouts)
	entry.Action, entry.SessionID, entry.Outcome = ActionSignIn, s.ID, OutcomeSucceeded
	if err := d.cfg.Sessions.CreateSession(r.Context(), tokenDigest(token), s); err != nil {
		d.serverError(w, r, err)
		return
	}
	if _, err := d.cfg.Audit.RecordAudit(r.Context(), entry); err != nil {
		d.serverError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: cookiePath, HttpOnly: true,
		Secure: d.cfg.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: int(d.cfg.Timeouts.Max.Seconds())})
	http.Redirect(w, r, v.Next, http.StatusSeeOther)
}

// validOperator returns what is wrong with a name given at sign-in, or "".
func validOperator(name string) string {
	if name == "" || utf8.RuneCountInString(name) > maxOperatorLen || !utf8.ValidString(name) ||
		strings.ContainsFunc(name, unicode.IsControl) {
		return "Enter your name (up to 64 characters): it goes into the audit log with what you do."
	}
	return ""
}

func (d *Dashboard) handleSignOut(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	err := d.audited(r, &AuditEntry{Action: ActionSignOut}, func(ctx context.Context) (string, string, error) {
		return "", "", d.cfg.Sessions.DeleteSession(ctx, s.ID)
	})
	if err != nil {
		d.serverError(w, r, err)
		return
	}
	d.clearCookie(w, sessionCookie)
	http.Redirect(w, r, "/dashboard/login?notice=signed_out", http.StatusSeeOther)
}

func (d *Dashboard) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: cookiePath, HttpOnly: true,
		Secure: d.cfg.SecureCookies, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// session returns the request's active session, or nil; expired reports a
// session that existed but has ended (it is deleted then).
func (d *Dashboard) session(r *http.Request) (s *Session, expired bool, err error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil, false, nil
	}
	s, err = d.cfg.Sessions.FindSession(r.Context(), tokenDigest(c.Value))
	if errors.Is(err, ErrNotFound) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	now := d.cfg.Now()
	if !s.Active(now) {
		return nil, true, d.cfg.Sessions.DeleteSession(r.Context(), s.ID)
	}
	if s.touch(now, d.cfg.Timeouts) {
		if err := d.cfg.Sessions.TouchSession(r.Context(), s); err != nil {
			return nil, false, err
		}
	}
	return s, false, nil
}

// requireSession lets signed-in operators through. Others are sent to the
// sign-in page (a redirect for page loads, the page itself with 401 for
// anything else, such as River UI's API calls).
func (d *Dashboard) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, expired, err := d.session(r)
		if err != nil {
			d.serverError(w, r, err)
			return
		}
		if s != nil {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey, s)))
			return
		}
		if expired {
			d.clearCookie(w, sessionCookie)
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !strings.HasPrefix(r.URL.Path, RiverUIPrefix+"/api/") {
			q := url.Values{"next": {r.URL.RequestURI()}}
			if expired {
				q.Set("notice", "expired")
			}
			http.Redirect(w, r, "/dashboard/login?"+q.Encode(), http.StatusSeeOther)
			return
		}
		d.renderSignIn(w, r, http.StatusUnauthorized, signInView{Next: "/dashboard/"})
	})
}

// safeNext returns where to go after signing in: a dashboard path, never
// another site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.ContainsAny(next, "\\\r\n") ||
		strings.HasPrefix(next, "//") || (u.Path != "/dashboard" && !strings.HasPrefix(u.Path, "/dashboard/")) ||
		strings.Contains(u.Path, "/..") {
		return "/dashboard/"
	}
	return next
}
