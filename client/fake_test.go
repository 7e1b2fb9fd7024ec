package client

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testKey is the secret key of every test client; tests check that no error
// ever shows it.
const testKey = "sk_test_51HeraldSecretKey0123456789"

// answer is one scripted HTTP answer of a fakeHerald.
type answer struct {
	status int               // 0: 200
	header map[string]string // extra headers
	body   string
	// hangup closes the connection without answering, like a crashed or
	// restarting server.
	hangup bool
	// delay holds the answer back (until the client gives up, if shorter).
	delay time.Duration
}

// received is what a fakeHerald saw of one request.
type received struct {
	method string
	path   string // escaped, as sent
	query  string
	header http.Header
	body   []byte
}

// fakeHerald stands in for Herald's HTTP answers: it records each request
// and answers the i-th with answers[i], repeating the last one.
type fakeHerald struct {
	*httptest.Server
	answers []answer

	mu       sync.Mutex
	requests []received
}

func newFakeHerald(t *testing.T, answers ...answer) *fakeHerald {
	t.Helper()
	require.NotEmpty(t, answers)
	f := &fakeHerald{answers: answers}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeHerald) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, received{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery,
		header: r.Header.Clone(), body: body})
	a := f.answers[min(len(f.requests), len(f.answers))-1]
	f.mu.Unlock()

	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.hangup {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(cmp.Or(a.status, http.StatusOK))
	_, _ = io.WriteString(w, a.body)
}

// received returns the requests so far.
func (f *fakeHerald) received() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.requests...)
}

// client returns a Client for f with a 1ms backoff, so retry tests are
// fast, and opts.
func (f *fakeHerald) client(opts ...Option) *Client {
	return New(f.URL, testKey, append([]Option{WithBackoff(func(int) time.Duration { return time.Millisecond })}, opts...)...)
}

// Answers copied from the README and the server's MarshalJSON.
const (
	openSessionJSON = `{"id":"cs_Wq3abc","object":"checkout.session","url":"http://127.0.0.1:8080/pay/cs_Wq3abc","status":"open",
 "payment_status":"unpaid","currency":"usd","amount_subtotal":3250,"amount_total":3250,
 "line_items":[{"name":"Notebook","unit_amount":1500,"quantity":2,"amount_total":3000,"image_url":"https://example.com/notebook.png"},
               {"name":"Pen","unit_amount":250,"quantity":1,"amount_total":250}],
 "success_url":"https://example.com/success?session_id={CHECKOUT_SESSION_ID}","cancel_url":"https://example.com/cart",
 "customer_email":"jo@example.com","client_reference_id":"order-1001","metadata":{"order_id":"1001"},
 "created":1795608000,"expires_at":1795609800,"payment":null}`

	completeSessionJSON = `{"id":"cs_Wq3abc","object":"checkout.session","url":null,"status":"complete",
 "payment_status":"paid","currency":"jpy","amount_subtotal":1500,"amount_total":1500,
 "line_items":[{"name":"Tea","unit_amount":1500,"quantity":1,"amount_total":1500}],
 "success_url":"https://example.com/success","cancel_url":"https://example.com/cart",
 "customer_email":null,"client_reference_id":null,"metadata":{},
 "created":1795608000,"expires_at":1795611600,
 "payment":{"id":"ch_9xY","brand":"visa","last4":"4242","three_d_secure":"authenticated"}}`

	createdEndpointJSON = `{"id":"we_7Kp","object":"webhook_endpoint","url":"https://example.com/webhooks","description":"fulfilment",
 "enabled_events":["checkout.session.completed"],"status":"enabled","disabled_reason":null,"paused":false,
 "secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","health":{"breaker_state":"closed","last_success_at":null,"failing_since":null},"created":1795608000}`

	disabledEndpointJSON = `{"id":"we_7Kp","object":"webhook_endpoint","url":"https://example.com/webhooks","description":"",
 "enabled_events":["*"],"status":"disabled","disabled_reason":"the endpoint answered 410 Gone","paused":true,
 "health":{"breaker_state":"half_open","last_success_at":1795608100,"failing_since":1795609000},"created":1795608000}`

	deletedEndpointJSON = `{"id":"we_7Kp","object":"webhook_endpoint","deleted":true}`

	eventJSON = `{"id":"evt_5Tq","object":"event","type":"checkout.session.completed","created":1795608000,
 "data":{"object":` + completeSessionJSON + `}}`

	failedDeliveryJSON = `{"id":"dlv_3Rz","object":"delivery","event":"evt_5Tq","event_type":"checkout.session.completed",
 "endpoint":"we_7Kp","status":"failed","held":false,"held_reason":null,"attempt_count":2,"next_attempt_at":null,
 "last_attempt_at":1795608005,"last_status_code":503,"last_error_class":"http_status","created":1795608000,
 "completed_at":1795608006,"attempts":[
  {"id":"att_1","object":"delivery_attempt","number":1,"trigger":"initial","created":1795608000,"duration_ms":12.5,
   "request_headers":{"webhook-id":"evt_5Tq"},"response_status":null,"response_headers":null,"response_body":"",
   "error_class":"connection_refused","error_message":"connection refused"},
  {"id":"att_2","object":"delivery_attempt","number":2,"trigger":"retry","created":1795608005,"duration_ms":3,
   "request_headers":{"webhook-id":"evt_5Tq"},"response_status":503,"response_headers":{"Retry-After":"60"},
   "response_body":"down for maintenance","error_class":"http_status","error_message":"503 Service Unavailable"}]}`

	pendingDeliveryJSON = `{"id":"dlv_4Hb","object":"delivery","event":"evt_5Tq","event_type":"checkout.session.completed",
 "endpoint":"we_7Kp","status":"pending","held":true,"held_reason":"endpoint_paused","attempt_count":0,"next_attempt_at":null,
 "last_attempt_at":null,"last_status_code":null,"last_error_class":null,"created":1795608000,"completed_at":null}`

	redriveJSON = `{"id":"rdr_8Mn","object":"redrive","status":"running","dry_run":false,
 "filter":{"endpoint_id":"we_7Kp","status":"skipped","event_type":"","since":1795600000,"until":null,"dry_run":false},
 "matched":12,"enqueued":5,"created":1795608000,"completed_at":null}`

	dryRunJSON = `{"id":null,"object":"redrive","status":null,"dry_run":true,
 "filter":{"endpoint_id":"","status":"failed","event_type":"charge.failed","since":null,"until":null,"dry_run":true},
 "matched":3,"enqueued":0,"created":1795608000,"completed_at":null}`
)

func listJSON(hasMore bool, objects ...string) string {
	return fmt.Sprintf(`{"object":"list","data":[%s],"has_more":%t}`, strings.Join(objects, ","), hasMore)
}

// apiError renders the API's error body.
func apiError(typ, code, message, param string) string {
	return `{"error":{"type":"` + typ + `","code":"` + code + `","message":"` + message + `","param":"` + param + `"}}`
}

// testContext is t.Context for Go 1.23, the module's floor: it is canceled
// when the test ends.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
