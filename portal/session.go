package portal

import (
	"context"
	"errors"
	"net/http"

	"github.com/heraldpay/herald/internal/htmlpage"
)

// The link (/portal/open?token=…) is the credential. Opening it moves the
// token into a cookie scoped to /portal and redirects to a clean URL, so
// the token stays out of the history, the access log (which never logs
// query strings) and any Referer; every page then finds the session by the
// cookie. A browser holds one portal session at a time: opening another
// link replaces it.
const cookieName = "herald_portal"

type sessionKey struct{}

func sessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(sessionKey{}).(*Session)
	return s
}

// find returns the session of token, or renders why there is none.
func (p *Portal) find(w http.ResponseWriter, r *http.Request, token string) (*Session, bool) {
	err := ErrSessionNotFound // no token: nothing to look up
	var s *Session
	if token != "" {
		s, err = p.cfg.Sessions.Find(r.Context(), token)
	}
	switch {
	case errors.Is(err, ErrSessionNotFound):
		p.message(w, r, http.StatusNotFound, "This link is not valid",
			"Check that the whole link was copied, or ask for a new one where you found it.")
		return nil, false
	case err != nil:
		p.serverError(w, r, err)
		return nil, false
	case !p.cfg.Now().Before(s.ExpiresAt):
		p.message(w, r, http.StatusGone, "This link has expired",
			"Portal links work for one hour. Ask for a new link where you found this one.")
		return nil, false
	}
	return s, true
}

// handleOpen starts a portal session from its link.
func (p *Portal) handleOpen(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	s, ok := p.find(w, r, token)
	if !ok {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/portal", Expires: s.ExpiresAt,
		HttpOnly: true, Secure: p.secureCookies(), SameSite: http.SameSiteLaxMode})
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/portal/", http.StatusSeeOther)
}

// requireSession finds the browser's portal session. Without one, or with
// an expired one, a page says so and nothing else is shown.
func (p *Portal) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		if err != nil {
			p.message(w, r, http.StatusUnauthorized, "Open your portal link",
				"This page is reached through a portal link, which works for one hour. Open the link you were given, or ask for a new one.")
			return
		}
		s, ok := p.find(w, r, c.Value)
		if !ok {
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}

// maxFormBytes bounds a posted form: the portal's carry a token at most.
const maxFormBytes = 4 << 10

// requireToken checks the session's form token on a posted form.
func (p *Portal) requireToken(next http.Handler) http.Handler {
	token := func(r *http.Request) string { return sessionFrom(r.Context()).CSRFToken }
	return htmlpage.RequireFormToken(p.message, maxFormBytes, token,
		"The form did not carry this portal's security token, so nothing was done. Reload the page and try again.")(next)
}
