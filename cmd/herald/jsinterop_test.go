package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/sinktest"
)

// standardWebhooksJS is the version of npm's standardwebhooks, the Standard
// Webhooks reference library for JavaScript, that checks our deliveries.
const standardWebhooksJS = "standardwebhooks@1.1.1"

// envRequireNode makes the JavaScript interop test fail, rather than skip,
// where node or npm is missing; CI sets it.
const envRequireNode = "HERALD_REQUIRE_NODE"

// verifyJS reads [{secret, headers, body}] on stdin and prints, for each,
// {"ok":true,"id":…} with the payload's id or {"ok":false,"error":…}.
const verifyJS = `const { Webhook } = require("standardwebhooks");
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
for (const c of cases) {
  try {
    const payload = new Webhook(c.secret).verify(c.body, c.headers);
    console.log(JSON.stringify({ ok: true, id: payload.id }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e && e.message) }));
  }
}
`

// jsVerifier runs standardwebhooks under node.
type jsVerifier struct {
	nodeModules string
	script      string
}

type jsCase struct {
	Secret  string            `json:"secret"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

type jsResult struct {
	OK    bool   `json:"ok"`
	ID    string `json:"id"`
	Error string `json:"error"`
}

// newJSVerifier installs standardwebhooks once per checkout, under
// .tmp/node, and returns a verifier using it. Without node or npm it skips
// the test, or fails it under HERALD_REQUIRE_NODE=1.
func newJSVerifier(t *testing.T) *jsVerifier {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(envRequireNode) == "1" {
				t.Fatalf("%s is missing and %s=1: install Debian's nodejs and npm", tool, envRequireNode)
			}
			t.Skipf("%s is missing (set %s=1 to fail instead)", tool, envRequireNode)
		}
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	dir := filepath.Join(root, ".tmp", "node", standardWebhooksJS)
	installed := filepath.Join(dir, "node_modules", "standardwebhooks", "package.json")
	if _, err := os.Stat(installed); errors.Is(err, fs.ErrNotExist) {
		// Install beside, then rename into place: a run cut short never
		// leaves a half-installed package that later runs would trust.
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		tmp := dir + ".install-" + hex.EncodeToString(b)
		require.NoError(t, os.MkdirAll(tmp, 0o755))
		defer os.RemoveAll(tmp)
		cmd := exec.Command("npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", tmp, standardWebhooksJS)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "npm install %s:\n%s", standardWebhooksJS, out)
		if err := os.Rename(tmp, dir); err != nil {
			_, statErr := os.Stat(installed)
			require.NoError(t, statErr, "install %s: %v", standardWebhooksJS, err) // another run won the rename
		}
	} else {
		require.NoError(t, err)
	}
	script := filepath.Join(t.TempDir(), "verify.js")
	require.NoError(t, os.WriteFile(script, []byte(verifyJS), 0o644))
	return &jsVerifier{nodeModules: filepath.Join(dir, "node_modules"), script: script}
}

// verify checks each case with the library and returns its verdicts.
func (v *jsVerifier) verify(t *testing.T, cases []jsCase) []jsResult {
	t.Helper()
	in, err := json.Marshal(cases)
	require.NoError(t, err)
	cmd := exec.Command("node", v.script)
	cmd.Env = append(os.Environ(), "NODE_PATH="+v.nodeModules)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node: %s", stderr.String())
	var results []jsResult
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r jsResult
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		results = append(results, r)
	}
	require.Len(t, results, len(cases))
	return results
}

// jsCaseOf is a delivery as the library gets it: lowercase header names,
// the body as received.
func jsCaseOf(secret string, req sinktest.Request) jsCase {
	return jsCase{Secret: secret, Body: string(req.Body), Headers: map[string]string{
		"webhook-id":        req.Header.Get("Webhook-Id"),
		"webhook-timestamp": req.Header.Get("Webhook-Timestamp"),
		"webhook-signature": req.Header.Get("Webhook-Signature"),
	}}
}

// The Standard Webhooks library for JavaScript, run by node, verifies real
// deliveries from Herald: with the endpoint's secret, with either secret
// while a rolled one still signs alongside, and with only the new one once
// the old has expired. A forged body fails.
func TestStandardWebhooksJSVerifiesDeliveries(t *testing.T) {
	t.Parallel()

	js := newJSVerifier(t)
	f := newDeliveryFixture(t, nil)
	first := f.endpoint["secret"].(string)
	f.pay(t)
	req := f.sink.Wait(t, 1)[0]

	r := f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints/"+f.endpointID()+"/roll_secret", f.key, map[string]any{"expire_previous_in": 3600})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	second := r.Body["secret"].(string)
	f.pay(t)
	rolling := f.sink.Wait(t, 2)[1]
	require.Len(t, strings.Fields(rolling.Header.Get("Webhook-Signature")), 2, "both secrets sign during the roll")

	r = f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints/"+f.endpointID()+"/roll_secret", f.key, map[string]any{"expire_previous_in": 0})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	third := r.Body["secret"].(string)
	f.pay(t)
	after := f.sink.Wait(t, 3)[2]

	forged := jsCaseOf(first, req)
	forged.Body = strings.Replace(forged.Body, `"paid"`, `"unpaid"`, 1)
	require.NotEqual(t, string(req.Body), forged.Body)
	stale := jsCaseOf(first, req)
	stale.Headers["webhook-timestamp"] = "1600000000"

	results := js.verify(t, []jsCase{
		jsCaseOf(first, req),
		jsCaseOf(first, rolling),
		jsCaseOf(second, rolling),
		jsCaseOf(third, after),
		jsCaseOf(second, after),
		forged,
		stale,
	})
	for i, want := range []struct {
		ok   bool
		from sinktest.Request
		what string
	}{
		{true, req, "the endpoint's secret"},
		{true, rolling, "the old secret during the roll"},
		{true, rolling, "the new secret during the roll"},
		{true, after, "the newest secret"},
		{false, after, "a secret that has expired"},
		{false, req, "a forged body"},
		{false, req, "a stale timestamp"},
	} {
		got := results[i]
		require.Equal(t, want.ok, got.OK, "%s: %+v", want.what, got)
		if want.ok {
			require.Equal(t, want.from.Header.Get("Webhook-Id"), got.ID, "%s: the verified payload is the event", want.what)
		} else {
			require.NotEmpty(t, got.Error, want.what)
		}
	}
	require.Contains(t, results[6].Error, "timestamp", "the library refused the stale message for its timestamp")
	// Keep the deliveries recent: the library's tolerance is five minutes.
	require.WithinDuration(t, time.Now(), req.At, 5*time.Minute)
}
