package webhook

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// The known-answer vector published with the Standard Webhooks libraries.
const (
	katSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	katMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	katUnix      = 1614265330
	katPayload   = `{"test": 2432232314}`
	katSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func mustKey(t testing.TB, secret string) []byte {
	t.Helper()
	key, err := ParseSecret(secret)
	require.NoError(t, err)
	return key
}

func TestSignKnownAnswer(t *testing.T) {
	t.Parallel()

	got := Sign(mustKey(t, katSecret), katMsgID, time.Unix(katUnix, 0), []byte(katPayload))
	require.Equal(t, katSignature, got)

	// Only whole seconds are signed, as the header carries no more.
	got = Sign(mustKey(t, katSecret), katMsgID, time.Unix(katUnix, 999_999_999), []byte(katPayload))
	require.Equal(t, katSignature, got)
}

func TestKnownAnswerMatchesPeerLibrary(t *testing.T) {
	t.Parallel()

	peer, err := standardwebhooks.NewWebhook(katSecret)
	require.NoError(t, err)
	got, err := peer.Sign(katMsgID, time.Unix(katUnix, 0), []byte(katPayload))
	require.NoError(t, err)
	require.Equal(t, katSignature, got, "the published vector and the peer library agree")

	h := http.Header{}
	SetHeaders(h, [][]byte{mustKey(t, katSecret)}, katMsgID, time.Unix(katUnix, 0), []byte(katPayload))
	require.NoError(t, peer.VerifyIgnoringTimestamp([]byte(katPayload), h))
}

func TestSignatureHeader(t *testing.T) {
	t.Parallel()

	keyA := mustKey(t, katSecret)
	keyB := mustKey(t, otherSecret)
	ts := time.Unix(katUnix, 0)
	body := []byte(katPayload)
	for _, tt := range []struct {
		name string
		keys [][]byte
		want string
	}{
		{"no keys", nil, ""},
		{"one key", [][]byte{keyA}, katSignature},
		{"rotation", [][]byte{keyA, keyB}, katSignature + " " + Sign(keyB, katMsgID, ts, body)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, SignatureHeader(tt.keys, katMsgID, ts, body))
		})
	}
}

func TestSetHeaders(t *testing.T) {
	t.Parallel()

	h := http.Header{}
	SetHeaders(h, [][]byte{mustKey(t, katSecret)}, katMsgID, time.Unix(katUnix, 0), []byte(katPayload))
	require.Equal(t, http.Header{
		"Webhook-Id":        {katMsgID},
		"Webhook-Timestamp": {strconv.Itoa(katUnix)},
		"Webhook-Signature": {katSignature},
	}, h, "canonical keys, so Header.Get and net/http find them")
}
