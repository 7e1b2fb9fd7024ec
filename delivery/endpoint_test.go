package delivery

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/validation"
)

// Control characters are refused in every free-text endpoint parameter, as
// the API's decoder refuses them: PostgreSQL refuses NUL in text, and the
// rest has no place in a URL or a description shown on the dashboard.
func TestValidateEndpointControlCharacters(t *testing.T) {
	t.Parallel()

	str := func(s string) *string { return &s }
	for _, tt := range []struct {
		name  string
		p     EndpointParams
		param string
	}{
		{"NUL in the description", EndpointParams{Description: str("fulfil\x00ment")}, "description"},
		{"newline in the description", EndpointParams{Description: str("line\nbreak")}, "description"},
		{"C1 in the description", EndpointParams{Description: str("\u009b31m red")}, "description"},
		{"NUL in the URL", EndpointParams{URL: str("https://hooks.shop.test/\x00")}, "url"},
		{"C1 in the URL", EndpointParams{URL: str("https://hooks.shop.test/\u0085")}, "url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			err := ValidateEndpoint(tt.p, false, false)
			var verr *validation.Error
			require.ErrorAs(t, err, &verr)
			require.Equal(t, tt.param, verr.Param)
			require.Equal(t, validation.CodeInvalid, verr.Code)
			require.Equal(t, validation.MessageControl, verr.Message)
		})
	}

	require.NoError(t, ValidateEndpoint(EndpointParams{Description: str("Fulfilment — café ☕")}, false, false))
}
