package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode"
)

// Errors returned by Verifier.Verify, possibly wrapped; test with errors.Is.
var (
	// ErrMissingHeaders means webhook-id, webhook-timestamp or
	// webhook-signature is absent or empty.
	ErrMissingHeaders = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	// ErrInvalidTimestamp means webhook-timestamp is not an integer.
	ErrInvalidTimestamp = errors.New("webhook: webhook-timestamp is not a unix time in seconds")
	// ErrMessageTooOld means webhook-timestamp is further in the past than
	// the tolerance allows, which is what a replayed message looks like.
	ErrMessageTooOld = errors.New("webhook: message timestamp too old")
	// ErrMessageTooNew means webhook-timestamp is further in the future than
	// the tolerance allows.
	ErrMessageTooNew = errors.New("webhook: message timestamp too new")
	// ErrNoMatchingSignature means no v1 signature in webhook-signature was
	// made with any of the Verifier's keys over this id, timestamp and body.
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
)

// defaultTolerance is how far webhook-timestamp may be from the receiver's
// clock, as the Standard Webhooks libraries default to.
const defaultTolerance = 5 * time.Minute

// encodedSigLen is the length of one padded base64-encoded HMAC-SHA256.
const encodedSigLen = (sha256.Size + 2) / 3 * 4

// Verifier checks the Standard Webhooks signature of incoming messages. It
// is safe for concurrent use as long as its fields are not changed while
// Verify runs.
type Verifier struct {
	keys [][]byte

	// Tolerance is how far webhook-timestamp may be from Now, either way,
	// to limit replays. Zero or negative means 5 minutes. It is applied in
	// whole seconds, the resolution of the header.
	Tolerance time.Duration
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// NewVerifier returns a Verifier for one or more signing secrets in the
// form ParseSecret accepts. During a secret rotation pass both the old and
// the new secret: a message signed with either verifies. Errors wrap
// ErrInvalidSecret for no secret or an invalid one, and also ErrEmptyKey
// for a secret without key bytes ("whsec_").
func NewVerifier(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	keys := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		key, err := ParseSecret(s)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i, err)
		}
		keys = append(keys, key)
	}
	return &Verifier{keys: keys}, nil
}

// NewVerifierRaw returns a Verifier for raw HMAC keys, for callers that
// store keys rather than whsec_ secrets. The keys are copied. It accepts the
// key sizes ParseSecret does (24 to 64 bytes). Errors wrap ErrInvalidSecret
// for no key or a key of the wrong size, and also ErrEmptyKey for a key of
// zero bytes, which anyone could sign with.
func NewVerifierRaw(keys ...[]byte) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key given", ErrInvalidSecret)
	}
	own := make([][]byte, len(keys))
	for i, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		own[i] = bytes.Clone(k)
	}
	return &Verifier{keys: own}, nil
}

// Verify returns nil if header carries a valid Standard Webhooks signature
// of body made with one of v's keys at a time within v.Tolerance of v.Now.
// Headers are read with header.Get, so they must be stored under their
// canonical names, as net/http and SetHeaders do. Errors wrap one of
// ErrMissingHeaders, ErrInvalidTimestamp, ErrMessageTooOld,
// ErrMessageTooNew or ErrNoMatchingSignature.
func (v *Verifier) Verify(header http.Header, body []byte) error {
	msgID := header.Get(HeaderID)
	timestamp := header.Get(HeaderTimestamp)
	signatures := header.Get(HeaderSignature)
	if msgID == "" || timestamp == "" || signatures == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	// The timestamp comes first: it is cheap, and a stale message is
	// rejected without spending an HMAC per key on it.
	if err := v.checkTimestamp(unix); err != nil {
		return err
	}

	// One conversion up front lets every comparison below run on byte
	// slices without further allocation.
	sigHeader := []byte(signatures)
	want := make([]byte, 0, encodedSigLen)
	for _, key := range v.keys {
		// Compare base64 text rather than decoded bytes: the decoder skips
		// newlines and ignores stray trailing bits, so several strings would
		// decode to the same MAC, and only the exact signature should pass.
		want = base64.StdEncoding.AppendEncode(want[:0], mac(key, msgID, unix, body))
		if hasSignature(sigHeader, want) {
			return nil
		}
	}
	return ErrNoMatchingSignature
}

// checkTimestamp works in integer seconds: the header has no finer
// resolution, and an absurd header value such as 1<<62 would overflow
// time.Time arithmetic and come out on the wrong side of now.
func (v *Verifier) checkTimestamp(unix int64) error {
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = defaultTolerance
	}
	slack := int64(tolerance / time.Second)
	now := v.now().Unix()
	switch {
	case unix < now-slack:
		return fmt.Errorf("%w: timestamp %d, now %d, tolerance %s", ErrMessageTooOld, unix, now, tolerance)
	case unix > now+slack:
		return fmt.Errorf("%w: timestamp %d, now %d, tolerance %s", ErrMessageTooNew, unix, now, tolerance)
	}
	return nil
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// hasSignature reports whether the space-separated signature header holds
// "v1,<want>". Entries of other versions and malformed entries are skipped,
// so a sender can add a new scheme next to v1 without breaking receivers.
// hmac.Equal keeps the comparison constant-time, so response timing does
// not reveal how much of a forged signature was right.
//
// Entries are split on runs of white space as bytes.Fields does, walked in
// place so that verification allocates nothing per entry (bytes.FieldsSeq
// would, but it needs Go 1.24 and this package supports Go 1.23).
func hasSignature(header, want []byte) bool {
	for {
		start := bytes.IndexFunc(header, isNotSpace)
		if start < 0 {
			return false
		}
		header = header[start:]
		end := bytes.IndexFunc(header, unicode.IsSpace)
		if end < 0 {
			end = len(header)
		}
		entry := header[:end]
		header = header[end:]
		version, sig, ok := bytes.Cut(entry, []byte{','})
		if ok && string(version) == "v1" && hmac.Equal(sig, want) {
			return true
		}
	}
}

func isNotSpace(r rune) bool { return !unicode.IsSpace(r) }
