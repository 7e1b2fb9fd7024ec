package deliverypg

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/delivery"
	"github.com/heraldpay/herald/webhook"
)

// recordFixture publishes one delivery per merchant to a sink that is never
// called (River stays stopped) and loads their targets, so that a test can
// write attempt records for them in one batch.
func recordFixture(t *testing.T, b *testBundle, merchants int) []*target {
	t.Helper()
	var ids []string
	for i := range merchants {
		m := b.merchant(t, fmt.Sprintf("Merchant %d", i))
		b.endpoint(t, m, "http://127.0.0.1:9/hooks", "*")
		b.publish(t, m, webhook.TypeChargeSucceeded)
		ids = append(ids, b.deliveries(t, m, delivery.DeliveryFilter{})[0].ID)
	}
	targets, err := b.worker.loadBatch(context.Background(), ids)
	require.NoError(t, err)
	return targets
}

// record judges res as the first attempt of t's delivery, under the default
// policy with a schedule of one hour.
func record(t *target, res delivery.AttemptResult) attemptRecord {
	now := time.Now()
	p := delivery.Policy{Retry: delivery.RetryPolicy{Schedule: []time.Duration{time.Hour}}}.WithDefaults()
	j := p.Judge(res, delivery.AttemptContext{Start: now}, func() float64 { return 0.5 })
	return attemptRecord{t: t, res: res, start: now, j: j, now: now}
}

type storedAttempt struct {
	status   *int
	class    string
	message  string
	headers  map[string]string
	body     []byte
	delivery delivery.Status
}

func readAttempt(t *testing.T, b *testBundle, deliveryID string) storedAttempt {
	t.Helper()
	var a storedAttempt
	err := b.pool.QueryRow(context.Background(), `SELECT a.response_status, a.error_class, a.error_message,
		COALESCE(a.response_headers, '{}'), a.response_body, d.status
		FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE a.delivery_id = $1`, deliveryID).
		Scan(&a.status, &a.class, &a.message, &a.headers, &a.body, &a.delivery)
	require.NoError(t, err)
	return a
}

// Text that came from outside is stored valid, without NUL and bounded,
// so that a hostile endpoint's answer cannot fail the batch it shares with
// other merchants' deliveries.
func TestRecordCleansOutsideText(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *testConfig) { c.noClient = true })
	targets := recordFixture(t, b, 2)
	healthy, hostile := targets[0], targets[1]

	header := http.Header{"X-Bad\x00Name": {"a\x00b\xffc"}, "X-Long": {strings.Repeat("é", 5000)}}
	for i := range 100 {
		header.Set(fmt.Sprintf("X-Many-%03d", i), "v")
	}
	outs, err := b.worker.recordBatch(context.Background(), []attemptRecord{
		record(healthy, delivery.AttemptResult{StatusCode: 200, Header: http.Header{"Ok": {"yes"}}}),
		record(hostile, delivery.AttemptResult{StatusCode: 500, Header: header, Body: []byte("raw \x00 bytes are fine")}),
	})
	require.NoError(t, err)
	for _, err := range outs {
		require.NoError(t, err)
	}
	require.Equal(t, delivery.StatusSucceeded, readAttempt(t, b, healthy.ID).delivery)

	a := readAttempt(t, b, hostile.ID)
	require.Equal(t, delivery.StatusPending, a.delivery)
	require.Equal(t, []byte("raw \x00 bytes are fine"), a.body, "the body is bytes, kept as they came")
	require.Len(t, a.headers, maxHeaders+1, "the first 64 headers by name, and the mark of the cut")
	require.Equal(t, "38 more headers not kept", a.headers[headersTruncated])
	require.Equal(t, "a\uFFFDb\uFFFDc", a.headers["X-Bad\uFFFDName"])
	require.True(t, utf8.ValidString(a.headers["X-Long"]))
	require.LessOrEqual(t, len(a.headers["X-Long"]), maxHeaderValue+len("…"))
}

// A TLS certificate whose name carries a NUL byte ends up in the attempt's
// error text; stored as is, Postgres would refuse it and fail the whole
// batch.
func TestRecordCleansErrorText(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *testConfig) { c.noClient = true })
	targets := recordFixture(t, b, 2)
	message := "x509: certificate is valid for evil\x00.example, \xff not 127.0.0.1" + strings.Repeat("!", 3000)
	outs, err := b.worker.recordBatch(context.Background(), []attemptRecord{
		record(targets[0], delivery.AttemptResult{StatusCode: 204}),
		record(targets[1], delivery.AttemptResult{Err: &delivery.AttemptError{Class: delivery.ClassTLS, Err: errors.New(message)}}),
	})
	require.NoError(t, err)
	require.NoError(t, outs[0])
	require.NoError(t, outs[1])
	require.Equal(t, delivery.StatusSucceeded, readAttempt(t, b, targets[0].ID).delivery)
	a := readAttempt(t, b, targets[1].ID)
	require.Equal(t, "tls", a.class)
	require.NotContains(t, a.message, "\x00")
	require.True(t, utf8.ValidString(a.message))
	require.LessOrEqual(t, len(a.message), maxErrorMessage+len("…"))
}

// When a batch still fails, its records are written one by one: the bad
// one is kept without its outside text, and only a record that cannot be
// written even then fails, alone.
func TestRecordFallsBackRowByRow(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *testConfig) { c.noClient = true })
	targets := recordFixture(t, b, 3)
	ctx := context.Background()
	// Faults injected in this test's own database: Postgres refuses one
	// attempt's body, and every attempt of one delivery.
	_, err := b.pool.Exec(ctx, `ALTER TABLE delivery_attempts ADD CONSTRAINT test_poison CHECK (response_body <> 'poison'::bytea)`)
	require.NoError(t, err)
	_, err = b.pool.Exec(ctx, fmt.Sprintf(`ALTER TABLE delivery_attempts ADD CONSTRAINT test_refused CHECK (delivery_id <> '%s')`, targets[2].ID))
	require.NoError(t, err)

	outs, err := b.worker.recordBatch(ctx, []attemptRecord{
		record(targets[0], delivery.AttemptResult{StatusCode: 200}),
		record(targets[1], delivery.AttemptResult{StatusCode: 200, Body: []byte("poison")}),
		record(targets[2], delivery.AttemptResult{StatusCode: 200}),
	})
	require.NoError(t, err, "the batch as a whole does not fail")
	require.NoError(t, outs[0])
	require.NoError(t, outs[1])
	require.ErrorContains(t, outs[2], "test_refused")

	require.Equal(t, delivery.StatusSucceeded, readAttempt(t, b, targets[0].ID).delivery)
	poisoned := readAttempt(t, b, targets[1].ID)
	require.Equal(t, delivery.StatusSucceeded, poisoned.delivery, "recorded, without the body Postgres refused")
	require.Empty(t, poisoned.body)
	require.Equal(t, 200, *poisoned.status)
	d, err := b.svc.FindDelivery(ctx, targets[2].MerchantID, targets[2].ID)
	require.NoError(t, err)
	require.Equal(t, delivery.StatusPending, d.Status, "nothing written: its job retries")
	require.Contains(t, b.logs.String(), "batch failed, writing its records one by one")
}

// End to end through the real sender: an endpoint whose certificate names
// a host with a NUL byte fails with a TLS error, and the healthy
// deliveries of another merchant, attempted at the same time, are all
// recorded.
func TestHostileCertificateDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	// A handshake that fails must fail as TLS, not as a timeout on a loaded
	// machine.
	b := setup(t, func(c *testConfig) { c.worker.AttemptTimeout = 15 * time.Second })
	hostile := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	hostile.TLS = &tls.Config{Certificates: []tls.Certificate{nulCertificate(t)}}
	hostile.StartTLS()
	t.Cleanup(hostile.Close)
	attacker, victim := b.merchant(t, "Attacker"), b.merchant(t, "Victim")
	// By name: for a name, the TLS error quotes the certificate's names.
	hostileEP := b.endpoint(t, attacker, strings.Replace(hostile.URL, "127.0.0.1", "localhost", 1)+"/hooks", "*")
	healthy := newSink(t, nil)
	b.endpoint(t, victim, hookURL(healthy), "*")

	for range 20 {
		b.publish(t, victim, webhook.TypeChargeSucceeded)
	}
	for range 5 {
		b.publish(t, attacker, webhook.TypeChargeSucceeded)
	}
	b.waitDeliveries(t, victim, delivery.DeliveryFilter{Status: delivery.StatusSucceeded}, 20)
	waitFor(t, 20*time.Second, "five recorded TLS failures", func() bool {
		n := 0
		for _, d := range b.deliveries(t, attacker, delivery.DeliveryFilter{EndpointID: hostileEP.ID}) {
			if d.Attempts == 1 && d.LastErrorClass == delivery.ClassTLS {
				n++
			}
		}
		return n == 5
	})
	var messages []string
	rows, err := b.pool.Query(context.Background(), `SELECT error_message FROM delivery_attempts WHERE error_class = 'tls'`)
	require.NoError(t, err)
	for rows.Next() {
		var m string
		require.NoError(t, rows.Scan(&m))
		messages = append(messages, m)
	}
	require.NoError(t, rows.Err())
	require.Len(t, messages, 5)
	for _, m := range messages {
		require.NotContains(t, m, "\x00")
	}
}

// nulCertificate is a self-signed certificate for a DNS name with a NUL.
func nulCertificate(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "evil"},
		DNSNames:     []string{"evil\x00.example.com"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
