package checkouthttp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/seal"
)

// The payment form is protected twice against cross-site posts:
// http.CrossOriginProtection refuses requests a browser marks as cross-site,
// and every form carries a token bound to a per-browser cookie and to the
// session (a signed double-submit cookie). An attacker page can neither
// read the cookie nor compute the token without the server key.
const csrfCookie = "herald_csrf"

// csrfToken returns the form token for sessionID, setting the browser's
// cookie first if it has none.
func (p *Pages) csrfToken(w http.ResponseWriter, r *http.Request, sessionID string) string {
	c, err := r.Cookie(csrfCookie)
	value := ""
	if err == nil && len(c.Value) == 32 {
		value = c.Value
	} else {
		value = id.Random(32)
		http.SetCookie(w, &http.Cookie{
			Name: csrfCookie, Value: value, Path: "/pay", HttpOnly: true,
			Secure: p.cfg.SecureCookies, SameSite: http.SameSiteLaxMode,
		})
	}
	return p.csrfMAC(value, sessionID)
}

// csrfValid reports whether the posted token matches the cookie, under the
// current key or a previous one (a form shown before a key rotation).
func (p *Pages) csrfValid(r *http.Request, sessionID string) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	mac := func(key []byte) string { return csrfMAC(key, c.Value, sessionID) }
	return seal.ValidMAC(r.PostFormValue("csrf_token"), mac, p.cfg.CSRFKey, p.cfg.PreviousCSRFKeys)
}

func (p *Pages) csrfMAC(cookie, sessionID string) string {
	return csrfMAC(p.cfg.CSRFKey, cookie, sessionID)
}

func csrfMAC(key []byte, cookie, sessionID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("herald pay csrf\x00" + cookie + "\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
