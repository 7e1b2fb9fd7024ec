package delivery

import (
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// Only results that say the endpoint is down count against its breaker: a
// 500 for one poison message must not hold back the others.
func TestEndpointDown(t *testing.T) {
	t.Parallel()

	noAnswer := func(c ErrorClass) AttemptResult {
		return AttemptResult{Err: &AttemptError{Class: c, Err: errors.New("x")}}
	}
	for _, tt := range []struct {
		name string
		res  AttemptResult
		down bool
	}{
		{"200", AttemptResult{StatusCode: 200}, false},
		{"204", AttemptResult{StatusCode: 204}, false},
		{"302", AttemptResult{StatusCode: 302}, false},
		{"400", AttemptResult{StatusCode: 400}, false},
		{"404", AttemptResult{StatusCode: 404}, false},
		{"410", AttemptResult{StatusCode: 410}, false},
		{"500", AttemptResult{StatusCode: 500}, false},
		{"501", AttemptResult{StatusCode: 501}, false},
		{"429", AttemptResult{StatusCode: http.StatusTooManyRequests}, true},
		{"502", AttemptResult{StatusCode: 502}, true},
		{"503", AttemptResult{StatusCode: 503}, true},
		{"504", AttemptResult{StatusCode: 504}, true},
		{"timeout", noAnswer(ClassTimeout), true},
		{"refused", noAnswer(ClassConnectionRefused), true},
		{"dns", noAnswer(ClassDNS), true},
		{"tls", noAnswer(ClassTLS), true},
		{"ssrf", noAnswer(ClassSSRFBlocked), true},
		{"connection", noAnswer(ClassConnection), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.down, EndpointDown(tt.res))
		})
	}
}
