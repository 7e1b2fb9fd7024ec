package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/heraldpay/herald/internal/htmlpage"
	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/seal"
)

// Forms are protected twice against cross-site requests:
// http.CrossOriginProtection (on every dashboard route) refuses what a
// browser marks as coming from another site, and every form carries a
// token: the session's own, or before sign-in one bound to a cookie of the
// browser's (a signed double-submit cookie). Another site can neither read
// the token nor compute it.

// signInToken returns the sign-in form's token, setting the browser's
// sign-in cookie first if it has none: a signed double-submit cookie, so
// that no other site can sign a browser into a session of its choosing.
func (d *Dashboard) signInToken(w http.ResponseWriter, r *http.Request) string {
	var value string
	if c, err := r.Cookie(signInCookie); err == nil && len(c.Value) == 32 {
		value = c.Value
	} else {
		value = id.Random(32)
		http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: value, Path: cookiePath, HttpOnly: true,
			Secure: d.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
	}
	return signInMAC(d.cfg.Key, value)
}

func signInMAC(key []byte, cookie string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("herald dashboard sign-in\x00" + cookie))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signInTokenValid checks the sign-in form's token under the current key or
// a previous one (a form shown before a key rotation).
func (d *Dashboard) signInTokenValid(r *http.Request) bool {
	c, err := r.Cookie(signInCookie)
	if err != nil || len(c.Value) != 32 {
		return false
	}
	mac := func(key []byte) string { return signInMAC(key, c.Value) }
	return seal.ValidMAC(r.PostFormValue("csrf_token"), mac, d.cfg.Key, d.cfg.PreviousKeys)
}

// requireToken checks the session's form token on a posted form.
func (d *Dashboard) requireToken(next http.Handler) http.Handler {
	token := func(r *http.Request) string { return sessionFrom(r.Context()).CSRFToken }
	return htmlpage.RequireFormToken(d.message, maxFormBytes, token,
		"The form did not carry this session's security token, so nothing was done. Reload the page and try again.")(next)
}
