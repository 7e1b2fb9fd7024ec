package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers, lowercase as the specification writes them
// (HTTP header names are case-insensitive).
const (
	// HeaderID carries the event id; receivers deduplicate on it.
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the Unix seconds of this attempt.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries space-separated "v1,<base64>" signatures, one
	// per active secret.
	HeaderSignature = "webhook-signature"
)

// Sign returns the "v1,<base64>" signature of a message:
// base64(HMAC-SHA256(key, msgID + "." + unix seconds + "." + body)).
func Sign(key []byte, msgID string, timestamp time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, msgID, timestamp.Unix(), body))
}

func mac(key []byte, msgID string, unix int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msgID))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, unix, 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// SignatureHeader returns the webhook-signature value for keys: one
// signature per key, space-separated, so a receiver holding either the old
// or the new secret during a rotation can verify.
func SignatureHeader(keys [][]byte, msgID string, timestamp time.Time, body []byte) string {
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		sigs = append(sigs, Sign(k, msgID, timestamp, body))
	}
	return strings.Join(sigs, " ")
}

// SetHeaders sets webhook-id, webhook-timestamp and webhook-signature on h.
func SetHeaders(h http.Header, keys [][]byte, msgID string, timestamp time.Time, body []byte) {
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(timestamp.Unix(), 10))
	h.Set(HeaderSignature, SignatureHeader(keys, msgID, timestamp, body))
}
