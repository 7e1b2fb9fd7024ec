// Package apitest holds the merchant API's tests to its OpenAPI description
// (api/openapi.yaml): every request a test sends and every answer it gets
// goes through Check, so that a route, a parameter, a field or a status
// missing from the description fails the test that met it.
package apitest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	valerrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"

	"github.com/heraldpay/herald/api"
)

var (
	once    sync.Once
	shared  validator.Validator
	loadErr error
	// mu serialises validations: the validator's caches are shared.
	mu sync.Mutex
)

// load parses the description once per test binary. Strict mode reports
// properties, query parameters and headers the description does not
// declare, even where it leaves objects open to later additions; the few
// open maps are listed.
func load() (validator.Validator, error) {
	once.Do(func() {
		doc, err := libopenapi.NewDocument(api.OpenAPI)
		if err != nil {
			loadErr = err
			return
		}
		v, errs := validator.NewValidator(doc, config.WithStrictMode(), config.WithFormatAssertions(),
			// Request-Id is on every answer (described in info); maps
			// (metadata, attempt headers) and an event's data.object (any
			// API object) are open by design.
			config.WithStrictIgnoredHeadersExtra("Request-Id"),
			config.WithStrictIgnorePaths(
				"$.body.metadata.*", "$.body.data[*].metadata.*",
				"$.body.attempts[*].request_headers.*", "$.body.attempts[*].response_headers.*",
				"$.body.data.object.**", "$.body.data[*].data.object.**",
			))
		if len(errs) > 0 {
			loadErr = errs[0]
			return
		}
		shared = v
	})
	return shared, loadErr
}

// Exchange is one request and its answer, with both bodies as sent.
type Exchange struct {
	Request      *http.Request
	RequestBody  []byte
	Response     *http.Response
	ResponseBody []byte
}

// Check fails t unless the exchange, on a /v1 path, is one the description
// allows:
//   - the answer's status is listed for the operation, and its body and
//     headers match that status's schema;
//   - a request the server accepted (2xx) matches the operation's
//     parameters and request body: the description is as lenient as the
//     server. (A refused request may well be outside the description: that
//     is what the tests of refusals send.)
//   - a path or method the description does not have is answered 404 or
//     405 in the error shape, as the router does for unknown routes.
func Check(t testing.TB, ex Exchange) {
	t.Helper()
	if !strings.HasPrefix(ex.Request.URL.Path, "/v1/") {
		return
	}
	v, err := load()
	if err != nil {
		t.Fatalf("apitest: load api/openapi.yaml: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	req := replay(ex.Request, ex.RequestBody)
	resp := &http.Response{StatusCode: ex.Response.StatusCode, Header: ex.Response.Header.Clone(), Request: req,
		Body: io.NopCloser(bytes.NewReader(ex.ResponseBody))}
	ok, errs := v.ValidateHttpResponse(req, resp)
	if !ok && unknownRoute(errs) {
		if ex.Response.StatusCode != http.StatusNotFound && ex.Response.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("apitest: %s %s is not in api/openapi.yaml, yet answered %d: %s", ex.Request.Method, ex.Request.URL.Path,
				ex.Response.StatusCode, ex.ResponseBody)
		}
		return
	}
	report(t, "answer", ex, errs)
	if ex.Response.StatusCode/100 == 2 {
		_, errs := v.ValidateHttpRequestSync(replay(ex.Request, ex.RequestBody))
		report(t, "request", ex, errs)
	}
}

// unknownRoute reports whether errs say the path or method is not in the
// description.
func unknownRoute(errs []*valerrors.ValidationError) bool {
	for _, e := range errs {
		if e.ValidationType == helpers.PathValidation {
			return true
		}
	}
	return false
}

func report(t testing.TB, what string, ex Exchange, errs []*valerrors.ValidationError) {
	t.Helper()
	for _, e := range errs {
		t.Errorf("apitest: %s %s → %d: the %s does not match api/openapi.yaml: %s (%s)\nrequest body: %s\nanswer: %s",
			ex.Request.Method, ex.Request.URL.RequestURI(), ex.Response.StatusCode, what, e.Message, e.Reason, ex.RequestBody, ex.ResponseBody)
		for _, se := range e.SchemaValidationErrors {
			t.Errorf("apitest:   at %s (schema %s): %s", se.FieldPath, se.KeywordLocation, se.Reason)
		}
	}
}

// replay is a copy of r with body, as the server received it.
func replay(r *http.Request, body []byte) *http.Request {
	c := r.Clone(r.Context())
	c.Body = io.NopCloser(bytes.NewReader(body))
	c.ContentLength = int64(len(body))
	return c
}

// Operations lists the description's operations as "METHOD /path", paths
// templated as the router writes them (/v1/events/{id}).
func Operations() ([]string, error) {
	doc, err := libopenapi.NewDocument(api.OpenAPI)
	if err != nil {
		return nil, err
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, err
	}
	var out []string
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			out = append(out, strings.ToUpper(method)+" "+path)
		}
	}
	return out, nil
}

// Reply is an API answer as a test reads it.
type Reply struct {
	Status int
	Header http.Header
	Raw    []byte
	// Body is the JSON answer decoded; nil for another content type.
	Body map[string]any
}

// ErrorField returns a field of the error answer ("code", "param", …).
func (r Reply) ErrorField(field string) any {
	e, _ := r.Body["error"].(map[string]any)
	return e[field]
}

// Data returns a list answer's objects.
func (r Reply) Data() []map[string]any {
	var out []map[string]any
	for _, v := range r.Body["data"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// Do sends method url with key as the bearer token (none when "") and body
// as JSON (none when nil; a string or []byte goes as it is, anything else is
// marshalled), holds the exchange to the description (Check), and decodes a
// JSON answer. Any failure on the way stops the test.
func Do(t testing.TB, method, url, key string, body any) Reply {
	t.Helper()
	var sent []byte
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
	case []byte:
		sent = b
	default:
		var err error
		if sent, err = json.Marshal(b); err != nil {
			t.Fatalf("apitest: encode the request body: %v", err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(sent)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatalf("apitest: %v", err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("apitest: %s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("apitest: read the answer to %s %s: %v", method, url, err)
	}
	Check(t, Exchange{Request: req, RequestBody: sent, Response: resp, ResponseBody: raw})
	out := Reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			t.Fatalf("apitest: %s %s answered invalid JSON: %v: %s", method, url, err, raw)
		}
	}
	return out
}
