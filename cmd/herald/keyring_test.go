package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/seal"
	"github.com/heraldpay/herald/internal/sinktest"
	"github.com/heraldpay/herald/webhook"
)

// verifyingSink is a merchant's endpoint that checks every delivery's
// signature with the whsec secret the merchant was given, and remembers
// the event ids that verified, per endpoint path.
type verifyingSink struct {
	*sinktest.Sink
	mu       sync.Mutex
	secrets  map[string]string
	verified map[string][]string
	failures []string
}

func newVerifyingSink(t *testing.T) *verifyingSink {
	t.Helper()
	v := &verifyingSink{secrets: map[string]string{}, verified: map[string][]string{}}
	v.Sink = newSink(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		v.mu.Lock()
		defer v.mu.Unlock()
		body := lastBody(v.Sink, r)
		verifier, err := webhook.NewVerifier(v.secrets[r.URL.Path])
		if err == nil {
			err = verifier.Verify(r.Header, body)
		}
		if err != nil {
			v.failures = append(v.failures, r.URL.Path+": "+err.Error())
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		v.verified[r.URL.Path] = append(v.verified[r.URL.Path], r.Header.Get("webhook-id"))
		w.WriteHeader(http.StatusOK)
	})
	return v
}

// lastBody returns the body of the request r that s has just recorded.
func lastBody(s *sinktest.Sink, r *http.Request) []byte {
	reqs := s.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Header.Get("webhook-id") == r.Header.Get("webhook-id") {
			return reqs[i].Body
		}
	}
	return nil
}

func (v *verifyingSink) expect(path, secret string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.secrets[path] = secret
}

func (v *verifyingSink) hasVerified(path, eventID string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, id := range v.verified[path] {
		if id == eventID {
			return true
		}
	}
	return false
}

func (v *verifyingSink) requireNoFailure(t *testing.T) {
	t.Helper()
	v.mu.Lock()
	defer v.mu.Unlock()
	require.Empty(t, v.failures, "every delivery verifies with the merchant's secret")
}

// expireSession creates a session and expires it, which publishes
// checkout.session.expired, and returns the event's id.
func expireSession(t *testing.T, baseURL, key string) string {
	t.Helper()
	r := callAt(t, baseURL, http.MethodPost, "/v1/checkout/sessions", key, sessionBody())
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	sessionID := r.Body["id"].(string)
	r = callAt(t, baseURL, http.MethodPost, "/v1/checkout/sessions/"+sessionID+"/expire", key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	r = callAt(t, baseURL, http.MethodGet, "/v1/events?type="+webhook.TypeCheckoutSessionExpired+"&limit=1", key, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	events := r.Body["data"].([]any)
	require.NotEmpty(t, events)
	return events[0].(map[string]any)["id"].(string)
}

// The whole rotation through the real binary: Herald runs under key a,
// with an endpoint (its secret sealed under a), another endpoint whose
// secret was sealed before key ids existed, and an idempotent create. Then
// every process restarts with b first and a kept, herald secrets rotate
// re-seals everything under b (a second run changes nothing), and Herald
// restarts with b alone: deliveries to both endpoints still verify with
// the secrets the merchant was given, the idempotent create still replays,
// card fingerprints did not change, the API keys behave as before, and no
// value in the database is left under a or in the old format.
func TestKeyRotationThroughTheBinary(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	dbURL, pool, apiKey := merchantDB(t)
	keyA := bytes.Repeat([]byte{0xa1}, 32)
	keyB := bytes.Repeat([]byte{0xb2}, 32)
	entryA := seal.FormatKey(seal.Key{ID: "a", Secret: keyA})
	entryB := seal.FormatKey(seal.Key{ID: "b", Secret: keyB})
	sink := newVerifyingSink(t)

	// Under key a alone.
	p1 := newHeraldProcess(t, dbURL, "HERALD_SECRETS="+entryA)
	p1.start(t)
	endpointBody := map[string]any{"url": sink.URL + "/current", "enabled_events": []string{"*"}}
	created := callAt(t, p1.url(), http.MethodPost, "/v1/webhook_endpoints", apiKey, endpointBody, "Idempotency-Key", "endpoint-1")
	require.Equal(t, http.StatusOK, created.Status, created.Raw)
	secret := created.Body["secret"].(string)
	sink.expect("/current", secret)
	legacy := callAt(t, p1.url(), http.MethodPost, "/v1/webhook_endpoints", apiKey,
		map[string]any{"url": sink.URL + "/legacy", "enabled_events": []string{"*"}})
	require.Equal(t, http.StatusOK, legacy.Status, legacy.Raw)
	legacyID := legacy.Body["id"].(string)
	// The second endpoint's secret as Herald sealed it before key ids: "v1."
	// under the same derivation of the same key.
	legacySecret := webhook.NewSecret()
	_, err := pool.Exec(ctx, `UPDATE webhook_endpoints SET secret_sealed = $2 WHERE id = $1`,
		legacyID, sealV1(t, seal.DeriveKey(keyA, purposeWebhookSecrets), legacySecret, legacyID))
	require.NoError(t, err)
	sink.expect("/legacy", legacySecret)
	rolled := callAt(t, p1.url(), http.MethodPost, "/v1/api_keys/roll", apiKey, map[string]any{"expire_previous_in": 3600})
	require.Equal(t, http.StatusOK, rolled.Status, rolled.Raw)
	newAPIKey := rolled.Body["secret"].(string)
	first := expireSession(t, p1.url(), newAPIKey)
	waitFor(t, 30*time.Second, "both endpoints to verify the first event", func() bool {
		return sink.hasVerified("/current", first) && sink.hasVerified("/legacy", first)
	})
	p1.kill()

	// b first, a kept: everything still opens; rotate moves it all to b.
	p2 := newHeraldProcess(t, dbURL, "HERALD_SECRETS="+entryB+","+entryA)
	p2.start(t)
	second := expireSession(t, p2.url(), newAPIKey)
	rotateEnv := map[string]string{"DATABASE_URL": dbURL, "HERALD_SECRETS": entryB + "," + entryA}
	res := runHerald(t, rotateEnv, "secrets", "rotate")
	require.Equal(t, 0, res.code, "stdout: %s\nstderr: %s", res.stdout, res.stderr)
	require.Contains(t, res.stdout, "current key b; keyring b, a\n")
	require.Regexp(t, `webhook endpoint secrets:\s+2 re-sealed\n`, res.stdout)
	require.Regexp(t, `idempotent responses:\s+1 re-sealed\n`, res.stdout)
	require.Regexp(t, `settings:\s+1 re-sealed\n`, res.stdout, "the card fingerprint key")
	require.Contains(t, res.stdout, "nothing left under another key: a can leave HERALD_SECRETS\n")
	again := runHerald(t, rotateEnv, "secrets", "rotate")
	require.Equal(t, 0, again.code, again.stderr)
	require.Equal(t, 3, strings.Count(again.stdout, " 0 re-sealed\n"), "a second rotation changes nothing: %s", again.stdout)
	waitFor(t, 30*time.Second, "both endpoints to verify the second event", func() bool {
		return sink.hasVerified("/current", second) && sink.hasVerified("/legacy", second)
	})
	p2.kill()

	// b alone.
	p3 := newHeraldProcess(t, dbURL, "HERALD_SECRETS="+entryB)
	p3.start(t)
	third := expireSession(t, p3.url(), newAPIKey)
	waitFor(t, 30*time.Second, "both endpoints to verify the third event", func() bool {
		return sink.hasVerified("/current", third) && sink.hasVerified("/legacy", third)
	})
	sink.requireNoFailure(t)
	replay := callAt(t, p3.url(), http.MethodPost, "/v1/webhook_endpoints", apiKey, endpointBody, "Idempotency-Key", "endpoint-1")
	require.Equal(t, http.StatusOK, replay.Status, replay.Raw)
	require.Equal(t, "true", replay.Header.Get("Idempotent-Replayed"))
	require.Equal(t, created.Raw, replay.Raw, "the stored answer, re-sealed under b, replays as it was")
	require.Equal(t, http.StatusOK, callAt(t, p3.url(), http.MethodGet, "/v1/api_keys", apiKey, nil).Status,
		"the rolled API key still works within its overlap: keys are digests, not sealed")
	var blocklisted int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM card_blocklist`).Scan(&blocklisted))
	require.Equal(t, 1, blocklisted, "the test card's fingerprint, seeded at every start, never changed")
	require.Contains(t, p3.stderr.String(), "current_key=b")

	for _, h := range dumpDatabase(t, pool) {
		for _, stale := range []string{"v1.", "v2.a."} {
			require.False(t, bytes.HasPrefix(h.data, []byte(stale)), "%s is still sealed the old way (%s…)", h.name, stale)
		}
	}
	var sealed int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints WHERE secret_sealed LIKE 'v2.b.%'`).Scan(&sealed))
	require.Equal(t, 2, sealed)
}

// sealV1 seals as Herald did before keyrings: "v1." and no key id.
func sealV1(t *testing.T, key []byte, plaintext, context string) string {
	t.Helper()
	box, err := seal.New(key)
	require.NoError(t, err)
	v2 := box.Seal(plaintext, context)
	return "v1." + v2[strings.LastIndex(v2, ".")+1:]
}

// Dropping a key before rotating: Herald refuses to start (the card
// fingerprint key cannot be opened, and it must never change) with a line
// naming the missing key, and rotate reports what it cannot open.
func TestDroppedKeyIsNamed(t *testing.T) {
	t.Parallel()

	dbURL := pgtest.NewDatabase(t)
	entryA := seal.FormatKey(seal.Key{ID: "a", Secret: bytes.Repeat([]byte{0xa1}, 32)})
	entryB := seal.FormatKey(seal.Key{ID: "b", Secret: bytes.Repeat([]byte{0xb2}, 32)})
	p := newHeraldProcess(t, dbURL, "HERALD_SECRETS="+entryA)
	p.start(t)
	p.kill()

	res := runHerald(t, map[string]string{"DATABASE_URL": dbURL, "HERALD_SECRETS": entryB, "HERALD_PUBLIC_URL": "https://pay.example.com",
		"HERALD_ADDR": freeAddr(t), "HERALD_MIGRATE": "false"}, "serve")
	require.Equal(t, 1, res.code, res.stderr)
	require.Contains(t, res.stderr, `the card fingerprint key is sealed under key "a", which HERALD_SECRETS lacks`)

	rot := runHerald(t, map[string]string{"DATABASE_URL": dbURL, "HERALD_SECRETS": entryB}, "secrets", "rotate")
	require.Equal(t, 1, rot.code)
	require.Regexp(t, `settings:\s+0 re-sealed, 1 unreadable\n`, rot.stdout)
	require.Equal(t, `herald: 1 sealed values could not be opened (sealed under "a", not in the keyring): put the missing key back in HERALD_SECRETS, after the current one, and run rotate again`+"\n", rot.stderr)
}

// herald secrets generate prints a fresh HERALD_SECRETS entry that Herald
// accepts.
func TestSecretsGenerate(t *testing.T) {
	t.Parallel()

	res := runHerald(t, nil, "secrets", "generate")
	require.Equal(t, 0, res.code, res.stderr)
	entry := strings.TrimSpace(res.stdout)
	ring, err := seal.ParseKeyring(entry)
	require.NoError(t, err, entry)
	require.Equal(t, seal.KeyID(ring.Current().Secret), ring.Current().ID, "the id derives from the key")
	require.NotEqual(t, entry, strings.TrimSpace(runHerald(t, nil, "secrets", "generate").stdout), "random every time")

	named := runHerald(t, nil, "secrets", "generate", "--id", "2026-12")
	require.Equal(t, 0, named.code, named.stderr)
	require.True(t, strings.HasPrefix(named.stdout, "2026-12:"), named.stdout)
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(named.stdout, "2026-12:")))
	require.NoError(t, err)
	require.Len(t, raw, 32)
}

// keyring returns a keyring of keys named by their id, each 32 bytes of
// the id's first letter, the first current.
func keyring(t *testing.T, ids ...string) *seal.Keyring {
	t.Helper()
	keys := make([]seal.Key, len(ids))
	for i, id := range ids {
		keys[i] = seal.Key{ID: id, Secret: bytes.Repeat([]byte(id[:1]), 32)}
	}
	ring, err := seal.NewKeyring(keys...)
	require.NoError(t, err)
	return ring
}

// What was handed out before a rotation keeps working while the old key
// is in the ring, and only then: a payment form and a 3-D Secure challenge
// shown under key a are accepted by a process on b,a and refused by one
// on b alone, and so is the dashboard's sign-in form.
func TestFormsSurviveKeyRotation(t *testing.T) {
	t.Parallel()

	dbURL := pgtest.NewDatabase(t)
	on := func(ids ...string) *testServer {
		return startServer(t, func(c *Config) {
			c.DatabaseURL, c.Secrets, c.Roles, c.DashboardPassword = dbURL, keyring(t, ids...), []string{roleAPI}, dashboardPassword
		})
	}
	underA, underBA := on("a"), on("b", "a")
	// Only the card fingerprint key is re-sealed, so that b alone can
	// start: the forms are what this test rotates under.
	_, err := resealSettings(context.Background(), underA.Pool(), keyring(t, "b", "a").Box(purposeSettings))
	require.NoError(t, err)
	underB := on("b")
	_, key := underA.newMerchant(t, "Acme")
	session := func() string {
		r := underA.call(t, http.MethodPost, "/v1/checkout/sessions", key, sessionBody())
		require.Equal(t, http.StatusOK, r.Status, r.Raw)
		return "/pay/" + r.Body["id"].(string)
	}

	// Payment forms shown under a. (The jar keeps one cookie for
	// 127.0.0.1 whatever the port, as a browser would across a restart.)
	c := formClient(t)
	first, second, challenged := session(), session(), session()
	firstToken, secondToken := openForm(t, c, underA.URL()+first), openForm(t, c, underA.URL()+second)
	resp, body := postForm(t, c, underB.URL()+second, payForm(secondToken, "4242424242424242"))
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "a dropped, its token fails")
	require.Contains(t, body, "This page has expired")
	resp, _ = postForm(t, c, underBA.URL()+first, payForm(firstToken, "4242424242424242"))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "a kept, its token works")
	require.Contains(t, resp.Header.Get("Location"), "https://shop.test/success")

	// A 3-D Secure challenge started under a.
	resp, _ = postForm(t, c, underA.URL()+challenged, payForm(openForm(t, c, underA.URL()+challenged), "4000002760003184"))
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, challenged+"/3ds", resp.Header.Get("Location"))
	challengeToken := openForm(t, c, underA.URL()+challenged+"/3ds")
	resp, _ = postForm(t, c, underB.URL()+challenged+"/3ds", url.Values{"csrf_token": {challengeToken}, "result": {"authenticated"}})
	require.NotEqual(t, http.StatusSeeOther, resp.StatusCode, "a dropped: neither the form's token nor the reference is accepted")
	resp, _ = postForm(t, c, underBA.URL()+challenged+"/3ds", url.Values{"csrf_token": {challengeToken}, "result": {"authenticated"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Location"), "https://shop.test/success", "the reference signed under a completes the charge")

	// The dashboard's sign-in form shown under a.
	signIn := func(target *testServer) int {
		c := formClient(t)
		token := openForm(t, c, underA.URL()+"/dashboard/login")
		resp, _ := postForm(t, c, target.URL()+"/dashboard/login",
			url.Values{"csrf_token": {token}, "operator": {"Ada"}, "password": {dashboardPassword}, "next": {"/dashboard/"}})
		return resp.StatusCode
	}
	require.Equal(t, http.StatusForbidden, signIn(underB))
	require.Equal(t, http.StatusSeeOther, signIn(underBA))
}

// The card fingerprint key is fixed at the first start with a keyring, as
// the derivation of its oldest key (the key before keyrings), and never
// changes after, whatever the rotations: fingerprints already stored
// (blocklist, decline counts) keep matching.
func TestFingerprintKeyNeverChanges(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)

	first, err := fingerprintKey(ctx, pool, keyring(t, "b", "a"))
	require.NoError(t, err)
	require.Equal(t, seal.DeriveKey(bytes.Repeat([]byte("a"), 32), purposeFingerprint), first, "from the oldest key")
	var sealed string
	require.NoError(t, pool.QueryRow(ctx, `SELECT value FROM herald_settings WHERE name = 'fingerprint_key'`).Scan(&sealed))
	require.True(t, strings.HasPrefix(sealed, "v2.b."), "sealed under the current key, never in clear: %s", sealed)

	for _, ids := range [][]string{{"b"}, {"c", "b"}} {
		got, err := fingerprintKey(ctx, pool, keyring(t, ids...))
		require.NoError(t, err)
		require.Equal(t, first, got, "keyring %v", ids)
	}
	tally, err := resealSettings(ctx, pool, keyring(t, "c", "b").Box(purposeSettings))
	require.NoError(t, err)
	require.Equal(t, 1, tally.Resealed)
	got, err := fingerprintKey(ctx, pool, keyring(t, "c"))
	require.NoError(t, err)
	require.Equal(t, first, got, "after a rotation to c alone")

	_, err = fingerprintKey(ctx, pool, keyring(t, "d"))
	require.ErrorContains(t, err, `sealed under key "c", which HERALD_SECRETS lacks`)
}
