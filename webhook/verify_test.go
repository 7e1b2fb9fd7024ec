package webhook

import (
	"cmp"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
)

// A third valid secret, never given to the verifiers below.
const strangerSecret = "whsec_RpM1T74E7+4Wn3wTg08z/hHQjtr++kfVfo4lFYfS7ZI="

const (
	testUnix  = 1_700_000_000
	testMsgID = "evt_2Zx9Qk"
	testBody  = `{"id":"evt_2Zx9Qk","object":"event","type":"charge.succeeded"}`
)

func testNow() time.Time { return time.Unix(testUnix, 0) }

// fixedVerifier verifies with secrets at testNow.
func fixedVerifier(t testing.TB, secrets ...string) *Verifier {
	t.Helper()
	v, err := NewVerifier(secrets...)
	require.NoError(t, err)
	v.Now = testNow
	return v
}

// signed returns the headers of testBody signed with secret at ts.
func signed(t testing.TB, ts time.Time, secrets ...string) http.Header {
	t.Helper()
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		keys[i] = mustKey(t, s)
	}
	h := http.Header{}
	SetHeaders(h, keys, testMsgID, ts, []byte(testBody))
	return h
}

// nonCanonical re-encodes a "v1,<base64>" signature with different unused
// trailing bits: a lenient base64 decoder yields the same MAC from it.
func nonCanonical(sig string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := len(sig) - 2 // the last character before the single '='
	return sig[:i] + string(alphabet[strings.IndexByte(alphabet, sig[i])^1]) + sig[i+1:]
}

func mustDecode(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestVerify(t *testing.T) {
	t.Parallel()

	now := testNow()
	good := Sign(mustKey(t, katSecret), testMsgID, now, []byte(testBody))
	mac := strings.TrimPrefix(good, "v1,")
	lenient, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(nonCanonical(good), "v1,"))
	require.NoError(t, err)
	require.Equal(t, mustDecode(t, mac), lenient, "nonCanonical keeps the MAC")
	require.NotEqual(t, good, nonCanonical(good))
	strangers := Sign(mustKey(t, strangerSecret), testMsgID, now, []byte(testBody))
	set := func(key, value string) func(http.Header) {
		return func(h http.Header) { h.Set(key, value) }
	}
	for _, tt := range []struct {
		name      string
		age       time.Duration     // how long before now the message was signed
		signer    string            // katSecret if empty
		edit      func(http.Header) // applied after signing
		body      string            // testBody if empty
		tolerance time.Duration
		want      error
	}{
		{name: "valid"},
		{name: "missing webhook-id", edit: func(h http.Header) { h.Del(HeaderID) }, want: ErrMissingHeaders},
		{name: "missing webhook-timestamp", edit: func(h http.Header) { h.Del(HeaderTimestamp) }, want: ErrMissingHeaders},
		{name: "missing webhook-signature", edit: func(h http.Header) { h.Del(HeaderSignature) }, want: ErrMissingHeaders},
		{name: "empty webhook-id", edit: set(HeaderID, ""), want: ErrMissingHeaders},
		{name: "no headers at all", edit: func(h http.Header) { clear(h) }, want: ErrMissingHeaders},
		{name: "timestamp not a number", edit: set(HeaderTimestamp, "yesterday"), want: ErrInvalidTimestamp},
		{name: "timestamp with a fraction", edit: set(HeaderTimestamp, strconv.Itoa(testUnix)+".5"), want: ErrInvalidTimestamp},
		{name: "timestamp overflows int64", edit: set(HeaderTimestamp, "99999999999999999999"), want: ErrInvalidTimestamp},
		{name: "too old by one second", age: 5*time.Minute + time.Second, want: ErrMessageTooOld},
		{name: "too new by one second", age: -5*time.Minute - time.Second, want: ErrMessageTooNew},
		{name: "exactly the tolerance old", age: 5 * time.Minute},
		{name: "exactly the tolerance new", age: -5 * time.Minute},
		{name: "custom tolerance, inside", age: time.Hour, tolerance: time.Hour},
		{name: "custom tolerance, too old", age: time.Minute + time.Second, tolerance: time.Minute, want: ErrMessageTooOld},
		{name: "custom tolerance, too new", age: -time.Minute - time.Second, tolerance: time.Minute, want: ErrMessageTooNew},
		{
			name: "absurd future timestamp does not overflow into the past",
			edit: set(HeaderTimestamp, strconv.FormatInt(1<<62, 10)),
			want: ErrMessageTooNew,
		},
		{
			name: "stale message is rejected for its age before its signature",
			age:  time.Hour,
			edit: set(HeaderSignature, "v1,forged"),
			want: ErrMessageTooOld,
		},
		{
			name: "tampered body",
			body: strings.Replace(testBody, "succeeded", "failed", 1),
			want: ErrNoMatchingSignature,
		},
		{name: "tampered msg id", edit: set(HeaderID, testMsgID+"x"), want: ErrNoMatchingSignature},
		{
			name: "tampered timestamp within tolerance",
			edit: set(HeaderTimestamp, strconv.Itoa(testUnix+1)),
			want: ErrNoMatchingSignature,
		},
		{name: "wrong secret", signer: strangerSecret, want: ErrNoMatchingSignature},
		{
			name: "only unknown versions, even with the right MAC",
			edit: set(HeaderSignature, "v2,"+mac+" V1,"+mac+" v1a,"+mac+" ,"+mac),
			want: ErrNoMatchingSignature,
		},
		{
			name: "malformed entries only",
			edit: set(HeaderSignature, "v1 , ,v1 v1, "+mac+" v1,"+mac+","+mac),
			want: ErrNoMatchingSignature,
		},
		{
			name: "non-canonical base64 of the right MAC",
			edit: set(HeaderSignature, nonCanonical(good)),
			want: ErrNoMatchingSignature,
		},
		{name: "second signature matches", edit: set(HeaderSignature, strangers+" "+good)},
		{
			name: "match after unknown versions and malformed entries",
			edit: set(HeaderSignature, "v2,abc  garbage v1, v1,"+mac+"x \t"+good),
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			signer := cmp.Or(tt.signer, katSecret)
			h := signed(t, now.Add(-tt.age), signer)
			if tt.edit != nil {
				tt.edit(h)
			}
			v := fixedVerifier(t, katSecret)
			v.Tolerance = tt.tolerance

			err := v.Verify(h, []byte(cmp.Or(tt.body, testBody)))
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestVerifyNilHeader(t *testing.T) {
	t.Parallel()

	require.ErrorIs(t, fixedVerifier(t, katSecret).Verify(nil, []byte(testBody)), ErrMissingHeaders)
}

func TestVerifyRotation(t *testing.T) {
	t.Parallel()

	now := testNow()
	for _, tt := range []struct {
		name    string
		signers []string
		want    error
	}{
		{"signed with the old secret", []string{katSecret}, nil},
		{"signed with the new secret", []string{otherSecret}, nil},
		{"signed with both", []string{katSecret, otherSecret}, nil},
		{"signed with a stranger and the new secret", []string{strangerSecret, otherSecret}, nil},
		{"signed with a stranger", []string{strangerSecret}, ErrNoMatchingSignature},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := fixedVerifier(t, katSecret, otherSecret)
			err := v.Verify(signed(t, now, tt.signers...), []byte(testBody))
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestNewVerifier(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name    string
		secrets []string
		want    []error
	}{
		{"no secrets", nil, []error{ErrInvalidSecret}},
		{"bad base64", []string{"whsec_not*base64"}, []error{ErrInvalidSecret}},
		{"too short", []string{"whsec_AAAA"}, []error{ErrInvalidSecret}},
		{"one bad among good", []string{katSecret, "whsec_AAAA", otherSecret}, []error{ErrInvalidSecret}},
		{"no key bytes", []string{SecretPrefix}, []error{ErrInvalidSecret, ErrEmptyKey}},
		{"no key bytes among good", []string{katSecret, SecretPrefix}, []error{ErrInvalidSecret, ErrEmptyKey}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifier(tt.secrets...)
			for _, want := range tt.want {
				require.ErrorIs(t, err, want)
			}
			if !slices.Contains(tt.want, ErrEmptyKey) {
				require.NotErrorIs(t, err, ErrEmptyKey)
			}
			require.Nil(t, v)
		})
	}
}

func TestNewVerifierRaw(t *testing.T) {
	t.Parallel()

	t.Run("verifies and owns its keys", func(t *testing.T) {
		t.Parallel()
		key := mustKey(t, katSecret)
		v, err := NewVerifierRaw([]byte("unrelated key, 24+ bytes"), key)
		require.NoError(t, err)
		v.Now = testNow
		h := signed(t, testNow(), katSecret)
		clear(key) // the caller reusing its buffer must not change v
		require.NoError(t, v.Verify(h, []byte(testBody)))
	})
	t.Run("zero Verifier matches nothing", func(t *testing.T) {
		t.Parallel()
		v := &Verifier{Now: testNow}
		require.ErrorIs(t, v.Verify(signed(t, testNow(), katSecret), []byte(testBody)), ErrNoMatchingSignature)
	})
	t.Run("accepts the sizes ParseSecret accepts", func(t *testing.T) {
		t.Parallel()
		for _, n := range []int{minKeyLen, newKeyLen, maxKeyLen} {
			v, err := NewVerifierRaw(make([]byte, n))
			require.NoError(t, err, "%d bytes", n)
			require.NotNil(t, v)
		}
	})

	for _, tt := range []struct {
		name string
		keys [][]byte
		want []error
	}{
		// An empty key is the dangerous one: HMAC accepts it, and anyone can
		// compute the signatures a Verifier built on it would accept.
		{"empty key", [][]byte{{}}, []error{ErrInvalidSecret, ErrEmptyKey}},
		{"nil key", [][]byte{nil}, []error{ErrInvalidSecret, ErrEmptyKey}},
		{"empty key among good", [][]byte{mustKey(t, katSecret), {}}, []error{ErrInvalidSecret, ErrEmptyKey}},
		{"no keys", nil, []error{ErrInvalidSecret}},
		{"one byte short", [][]byte{make([]byte, minKeyLen-1)}, []error{ErrInvalidSecret}},
		{"one byte long", [][]byte{make([]byte, maxKeyLen+1)}, []error{ErrInvalidSecret}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := NewVerifierRaw(tt.keys...)
			for _, want := range tt.want {
				require.ErrorIs(t, err, want)
			}
			if !slices.Contains(tt.want, ErrEmptyKey) {
				require.NotErrorIs(t, err, ErrEmptyKey)
			}
			require.Nil(t, v)
		})
	}

	// Both constructors agree on every key: a raw key is accepted exactly
	// when its whsec_ form is.
	for n := range maxKeyLen + 2 {
		key := make([]byte, n)
		_, rawErr := NewVerifierRaw(key)
		_, secretErr := NewVerifier(SecretPrefix + base64.StdEncoding.EncodeToString(key))
		require.Equal(t, rawErr == nil, secretErr == nil, "%d bytes: raw %v, secret %v", n, rawErr, secretErr)
	}
}

func TestVerifyDefaultsToRealClock(t *testing.T) {
	t.Parallel()

	v, err := NewVerifier(katSecret)
	require.NoError(t, err)
	require.NoError(t, v.Verify(signed(t, time.Now(), katSecret), []byte(testBody)))
	require.ErrorIs(t, v.Verify(signed(t, time.Now().Add(-6*time.Minute), katSecret), []byte(testBody)), ErrMessageTooOld)
}

func TestInteropPeerVerifiesOurs(t *testing.T) {
	t.Parallel()

	for _, secret := range []string{katSecret, otherSecret, NewSecret()} {
		t.Run(secret[:12], func(t *testing.T) {
			t.Parallel()
			peer, err := standardwebhooks.NewWebhook(secret)
			require.NoError(t, err)
			// The peer checks against the real clock. Sign with both this
			// secret and a stranger's, as during a rotation.
			h := signed(t, time.Now(), strangerSecret, secret)
			require.NoError(t, peer.Verify([]byte(testBody), h))
			require.ErrorIs(t, peer.Verify([]byte(testBody+" "), h), standardwebhooks.ErrNoMatchingSignature)
		})
	}
}

func TestInteropWeVerifyPeers(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name string
		ts   time.Time
		now  func() time.Time
	}{
		{"fixed clock", testNow(), testNow},
		{"real clock", time.Now(), nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			peer, err := standardwebhooks.NewWebhook(otherSecret)
			require.NoError(t, err)
			sig, err := peer.Sign(testMsgID, tt.ts, []byte(testBody))
			require.NoError(t, err)
			h := http.Header{}
			h.Set(standardwebhooks.HeaderWebhookID, testMsgID)
			h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(tt.ts.Unix(), 10))
			h.Set(standardwebhooks.HeaderWebhookSignature, sig)

			v, err := NewVerifier(katSecret, otherSecret)
			require.NoError(t, err)
			v.Now = tt.now
			require.NoError(t, v.Verify(h, []byte(testBody)))
			require.ErrorIs(t, v.Verify(h, []byte(testBody+" ")), ErrNoMatchingSignature)
		})
	}
}

func FuzzVerify(f *testing.F) {
	now := testNow()
	ts := strconv.Itoa(testUnix)
	body := []byte(testBody)
	keyA, keyB := mustKey(f, katSecret), mustKey(f, otherSecret)

	f.Add(testMsgID, ts, Sign(keyA, testMsgID, now, body), body)
	f.Add(testMsgID, ts, "v2,x "+Sign(keyB, testMsgID, now, body), body)
	f.Add(testMsgID, ts, SignatureHeader([][]byte{keyA, keyB}, testMsgID, now, body), body)
	f.Add(katMsgID, strconv.Itoa(katUnix), katSignature, []byte(katPayload))
	f.Add("", "", "", []byte(nil))
	f.Add("x", "-9223372036854775808", "v1,", []byte("{"))
	f.Add("x", "+1700000000", ",,, v1,v1, v1", []byte{0xff})
	f.Add("x\x00y", "1e9", "v1,====", []byte("\r\n"))

	f.Fuzz(func(t *testing.T, msgID, timestamp, signature string, body []byte) {
		v, err := NewVerifierRaw(keyA, keyB)
		require.NoError(t, err)
		v.Now = func() time.Time { return now }
		h := http.Header{}
		h.Set(HeaderID, msgID)
		h.Set(HeaderTimestamp, timestamp)
		h.Set(HeaderSignature, signature)

		err = v.Verify(h, body)
		if err != nil {
			for _, sentinel := range []error{ErrMissingHeaders, ErrInvalidTimestamp, ErrMessageTooOld, ErrMessageTooNew, ErrNoMatchingSignature} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("Verify returned an unexpected error: %v", err)
		}

		unix, err := strconv.ParseInt(timestamp, 10, 64)
		require.NoError(t, err, "accepted an unparsable timestamp")
		require.LessOrEqual(t, max(unix-testUnix, testUnix-unix), int64(defaultTolerance/time.Second), "accepted a timestamp outside the tolerance")
		fields := strings.Fields(signature)
		at := time.Unix(unix, 0)
		require.True(t,
			slices.Contains(fields, Sign(keyA, msgID, at, body)) || slices.Contains(fields, Sign(keyB, msgID, at, body)),
			"accepted %q without a correct signature", signature)
	})
}
