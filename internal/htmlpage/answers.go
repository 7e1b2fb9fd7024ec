package htmlpage

import (
	"crypto/subtle"
	"io/fs"
	"net/http"

	"github.com/heraldpay/herald/internal/httpapi"
)

// MessageFunc shows a site's message page: a heading and a sentence or two,
// inside the site's layout.
type MessageFunc func(w http.ResponseWriter, r *http.Request, status int, heading, msg string)

// LogError logs err, why a page could not be shown, with the request's path
// and id, and returns the id for the error page to quote.
func (s *Set) LogError(r *http.Request, err error) string {
	reqID := httpapi.RequestID(r.Context())
	s.logger.ErrorContext(r.Context(), s.site, "path", r.URL.Path, "err", err, "request_id", reqID)
	return reqID
}

// NotAllowed answers a method the route does not take with 405 and a
// message page naming it.
func NotAllowed(message MessageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		message(w, r, http.StatusMethodNotAllowed, "Not allowed", r.Method+" is not allowed here.")
	}
}

// CrossOriginProtection refuses the state-changing requests that a browser
// marks as coming from another site, with 403 and a message page saying
// msg.
func CrossOriginProtection(message MessageFunc, msg string) *http.CrossOriginProtection {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		message(w, r, http.StatusForbidden, "Request refused", msg)
	}))
	return cop
}

// RequireFormToken checks a posted form, read up to maxBytes, for the form
// token of the page's session (token returns it): a form without it comes
// from elsewhere, or from a page of another session, and is refused with
// 403 and a message page saying expired.
func RequireFormToken(message MessageFunc, maxBytes int64, token func(*http.Request) string,
	expired string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, maxBytes)
			if err := r.ParseForm(); err != nil {
				message(w, r, http.StatusBadRequest, "Invalid form", "The form could not be read. Go back and try again.")
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf_token")), []byte(token(r))) != 1 {
				message(w, r, http.StatusForbidden, "This form has expired", expired)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Assets serves the files of fsys's assets directory below prefix, cached
// for an hour.
func Assets(fsys fs.FS, prefix string) http.HandlerFunc {
	assets, _ := fs.Sub(fsys, "assets") // cannot fail: the name is a valid path
	files := http.StripPrefix(prefix, http.FileServerFS(assets))
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}
}
