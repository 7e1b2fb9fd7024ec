package receiver

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/webhook"
)

type handlerBundle struct {
	handler *Handler
	server  *httptest.Server
	secret  string
	key     []byte
	calls   atomic.Int32
	fail    atomic.Bool
}

func setupHandler(t *testing.T) *handlerBundle {
	t.Helper()
	b := &handlerBundle{secret: webhook.NewSecret()}
	var err error
	b.key, err = webhook.ParseSecret(b.secret)
	require.NoError(t, err)
	b.handler, err = NewHandler(NewMemoryStore(), b.secret)
	require.NoError(t, err)
	b.handler.On(webhook.TypeCheckoutSessionCompleted, func(context.Context, webhook.Event) error {
		if b.fail.Load() {
			return errors.New("warehouse unavailable")
		}
		b.calls.Add(1)
		return nil
	})
	b.server = httptest.NewServer(b.handler)
	t.Cleanup(b.server.Close)
	return b
}

func event(id, typ string) []byte {
	return []byte(`{"id":"` + id + `","object":"event","type":"` + typ + `","created":1700000000,"data":{"object":{"id":"cs_1","object":"checkout.session","payment_status":"paid"}}}`)
}

// post sends body signed with key at ts; mutate may spoil the request.
func (b *handlerBundle) post(t *testing.T, key []byte, msgID string, ts time.Time, body []byte, mutate ...func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.server.URL, bytes.NewReader(body))
	require.NoError(t, err)
	webhook.SetHeaders(req.Header, [][]byte{key}, msgID, ts, body)
	for _, m := range mutate {
		m(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.String()
}

func TestHandlerProcessesOnce(t *testing.T) {
	t.Parallel()

	b := setupHandler(t)
	status, body := b.post(t, b.key, "evt_1", time.Now(), event("evt_1", webhook.TypeCheckoutSessionCompleted))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "processed\n", body)
	status, body = b.post(t, b.key, "evt_1", time.Now(), event("evt_1", webhook.TypeCheckoutSessionCompleted))
	require.Equal(t, http.StatusOK, status, "a duplicate is acknowledged")
	require.Equal(t, "duplicate: already processed\n", body)
	require.Equal(t, int32(1), b.calls.Load())

	status, _ = b.post(t, b.key, "evt_2", time.Now(), event("evt_2", webhook.TypeChargeSucceeded))
	require.Equal(t, http.StatusOK, status, "unhandled types are acknowledged")
	require.Equal(t, int32(1), b.calls.Load())
}

func TestHandlerConcurrentDuplicates(t *testing.T) {
	t.Parallel()

	b := setupHandler(t)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _ := b.post(t, b.key, "evt_1", time.Now(), event("evt_1", webhook.TypeCheckoutSessionCompleted))
			require.Equal(t, http.StatusOK, status)
		}()
	}
	wg.Wait()
	require.Equal(t, int32(1), b.calls.Load())
}

func TestHandlerFailureIsRetried(t *testing.T) {
	t.Parallel()

	b := setupHandler(t)
	b.fail.Store(true)
	status, _ := b.post(t, b.key, "evt_1", time.Now(), event("evt_1", webhook.TypeCheckoutSessionCompleted))
	require.Equal(t, http.StatusInternalServerError, status, "a 5xx makes Herald retry")
	b.fail.Store(false)
	status, body := b.post(t, b.key, "evt_1", time.Now(), event("evt_1", webhook.TypeCheckoutSessionCompleted))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "processed\n", body, "the failed attempt recorded nothing")
	require.Equal(t, int32(1), b.calls.Load())
}

func TestHandlerRefusesBadRequests(t *testing.T) {
	t.Parallel()

	b := setupHandler(t)
	good := event("evt_1", webhook.TypeCheckoutSessionCompleted)
	wrongKey, err := webhook.ParseSecret(webhook.NewSecret())
	require.NoError(t, err)
	for _, tt := range []struct {
		name   string
		key    []byte
		ts     time.Time
		body   []byte
		mutate func(*http.Request)
		status int
	}{
		{"tampered body", b.key, time.Now(), good, func(r *http.Request) {
			tampered := bytes.Replace(good, []byte(`"paid"`), []byte(`"PAID"`), 1)
			r.Body, r.ContentLength = nopCloser(tampered), int64(len(tampered))
		}, http.StatusUnauthorized},
		{"wrong secret", wrongKey, time.Now(), good, nil, http.StatusUnauthorized},
		{"timestamp ten minutes old", b.key, time.Now().Add(-10 * time.Minute), good, nil, http.StatusUnauthorized},
		{"timestamp ten minutes ahead", b.key, time.Now().Add(10 * time.Minute), good, nil, http.StatusUnauthorized},
		{"missing signature", b.key, time.Now(), good, func(r *http.Request) { r.Header.Del(webhook.HeaderSignature) }, http.StatusBadRequest},
		{"missing id", b.key, time.Now(), good, func(r *http.Request) { r.Header.Del(webhook.HeaderID) }, http.StatusBadRequest},
		{"bad timestamp", b.key, time.Now(), good, func(r *http.Request) { r.Header.Set(webhook.HeaderTimestamp, "yesterday") }, http.StatusBadRequest},
		{"signed garbage", b.key, time.Now(), []byte(`not json`), nil, http.StatusBadRequest},
		{"signed event without id", b.key, time.Now(), []byte(`{"type":"checkout.session.completed"}`), nil, http.StatusBadRequest},
		{"event id differs from webhook-id", b.key, time.Now(), event("evt_other", webhook.TypeCheckoutSessionCompleted), nil, http.StatusBadRequest},
		{"GET", b.key, time.Now(), good, func(r *http.Request) { r.Method = http.MethodGet }, http.StatusMethodNotAllowed},
		{"huge body", b.key, time.Now(), good, func(r *http.Request) {
			huge := []byte(strings.Repeat("x", DefaultMaxBody+1))
			r.Body, r.ContentLength = nopCloser(huge), int64(len(huge))
			r.Header.Set("Content-Length", strconv.Itoa(len(huge)))
		}, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var mutate []func(*http.Request)
			if tt.mutate != nil {
				mutate = append(mutate, tt.mutate)
			}
			status, _ := b.post(t, tt.key, "evt_1", tt.ts, tt.body, mutate...)
			require.Equal(t, tt.status, status)
		})
	}
	require.Zero(t, b.calls.Load(), "nothing bad was processed")
}

func TestHandlerAcceptsEitherSecretDuringRotation(t *testing.T) {
	t.Parallel()

	oldSecret, newSecret := webhook.NewSecret(), webhook.NewSecret()
	h, err := NewHandler(NewMemoryStore(), oldSecret, newSecret)
	require.NoError(t, err)
	var calls atomic.Int32
	h.On(webhook.TypeCheckoutSessionCompleted, func(context.Context, webhook.Event) error { calls.Add(1); return nil })
	srv := httptest.NewServer(h)
	defer srv.Close()
	for i, secret := range []string{oldSecret, newSecret} {
		key, err := webhook.ParseSecret(secret)
		require.NoError(t, err)
		id := "evt_" + strconv.Itoa(i)
		body := event(id, webhook.TypeCheckoutSessionCompleted)
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		require.NoError(t, err)
		webhook.SetHeaders(req.Header, [][]byte{key}, id, time.Now(), body)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	require.Equal(t, int32(2), calls.Load())

	_, err = NewHandler(NewMemoryStore())
	require.ErrorIs(t, err, webhook.ErrInvalidSecret)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func nopCloser(b []byte) readCloser { return readCloser{bytes.NewReader(b)} }

// On may be called while requests are served (run with -race): a request
// runs the function registered when it is dispatched, a type registered
// later is handled from then on, and On(typ, nil) stops handling it.
func TestHandlerOnWhileServing(t *testing.T) {
	t.Parallel()

	b := setupHandler(t)
	var charges atomic.Int32
	onCharge := func(context.Context, webhook.Event) error { charges.Add(1); return nil }

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var served atomic.Int32
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				id := "evt_bg" + strconv.Itoa(i) + "_" + strconv.Itoa(n)
				status, _ := b.post(t, b.key, id, time.Now(), event(id, webhook.TypeChargeFailed))
				require.Equal(t, http.StatusOK, status)
				served.Add(1)
			}
		}()
	}
	// Register and remove handlers until the server has answered requests
	// dispatched meanwhile, so that the two overlap.
	for i := 0; served.Load() < 40; i++ {
		b.handler.On(webhook.TypeChargeFailed, onCharge)
		b.handler.On("charge.type_"+strconv.Itoa(i%100), onCharge)
		b.handler.On(webhook.TypeChargeFailed, nil)
	}
	close(stop)
	wg.Wait()

	status, body := b.post(t, b.key, "evt_a", time.Now(), event("evt_a", webhook.TypeChargeSucceeded))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ignored: no handler for charge.succeeded\n", body)
	b.handler.On(webhook.TypeChargeSucceeded, onCharge)
	before := charges.Load()
	status, body = b.post(t, b.key, "evt_b", time.Now(), event("evt_b", webhook.TypeChargeSucceeded))
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "processed\n", body, "a type registered after serving began is handled")
	require.Equal(t, before+1, charges.Load())
	b.handler.On(webhook.TypeChargeSucceeded, nil)
	_, body = b.post(t, b.key, "evt_c", time.Now(), event("evt_c", webhook.TypeChargeSucceeded))
	require.Equal(t, "ignored: no handler for charge.succeeded\n", body, "On(typ, nil) removes the handler")
}
