package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/seal"
)

// heraldResult is how a herald command ended.
type heraldResult struct {
	code           int
	stdout, stderr string
}

// runHerald runs the test binary as the herald command with exactly env
// (nothing inherited: no HERALD_ENV from the machine) and waits for it.
func runHerald(t *testing.T, env map[string]string, args ...string) heraldResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = []string{envExecMain + "=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		require.NoError(t, err)
	}
	return heraldResult{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// closedDatabaseURL is a well-formed DATABASE_URL nothing listens at.
func closedDatabaseURL(t *testing.T) string {
	t.Helper()
	return "postgres://herald:pw@" + freeAddr(t) + "/herald?connect_timeout=5"
}

// envWith is a copy of base with the variables kv names (key, value pairs)
// set, or removed where the value is "".
func envWith(base map[string]string, kv ...string) map[string]string {
	env := map[string]string{}
	for k, v := range base {
		env[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(env, kv[i])
			continue
		}
		env[kv[i]] = kv[i+1]
	}
	return env
}

// parseSetting parses a herald serve configuration from env and args.
// With wantErr, it requires that error and reports false: nothing more
// to check.
func parseSetting(t *testing.T, env map[string]string, args []string, wantErr string) (Config, bool) {
	t.Helper()
	cfg, err := parseServeConfig(args, func(k string) string { return env[k] })
	if wantErr != "" {
		require.EqualError(t, err, wantErr)
		return Config{}, false
	}
	require.NoError(t, err)
	return cfg, true
}

// Production is the default, and it refuses to start without a server key
// and an https public URL; every configuration mistake, a malformed
// DATABASE_URL included, is one exact line on stderr and exit 2, never
// quoting a secret. A complete production configuration passes them all
// and only then fails to reach the database (exit 1).
func TestConfigErrorsThroughTheBinary(t *testing.T) {
	t.Parallel()

	key := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))
	legacy := strings.Repeat("l", 40)
	production := map[string]string{"DATABASE_URL": "postgres://herald@127.0.0.1:1/herald", "HERALD_SECRETS": "k1:" + key,
		"HERALD_PUBLIC_URL": "https://pay.example.com"}
	dev := envWith(production, "HERALD_ENV", "dev", "HERALD_SECRETS", "", "HERALD_PUBLIC_URL", "")
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		line string
	}{
		{"no key in production by default", envWith(production, "HERALD_SECRETS", ""), nil,
			"herald: HERALD_SECRETS is required in production (or HERALD_SECRET): make a key with `herald secrets generate`"},
		{"no public url in production", envWith(production, "HERALD_PUBLIC_URL", ""), nil,
			"herald: HERALD_PUBLIC_URL is required in production: the https origin customers reach Herald at, like https://pay.example.com"},
		{"http public url in production", envWith(production, "HERALD_PUBLIC_URL", "http://pay.example.com"), nil,
			"herald: HERALD_PUBLIC_URL must be https in production"},
		{"private endpoints in production", envWith(production, "HERALD_ALLOW_PRIVATE_ENDPOINTS", "10.0.0.0/8"), nil,
			"herald: HERALD_ALLOW_PRIVATE_ENDPOINTS must be empty in production"},
		{"short dashboard password in production", envWith(production, "HERALD_DASHBOARD_PASSWORD", "elevenchars"), nil,
			"herald: HERALD_DASHBOARD_PASSWORD must be at least 12 characters in production"},
		{"short dashboard password in dev", envWith(dev, "HERALD_DASHBOARD_PASSWORD", "abc"), nil,
			"herald: HERALD_DASHBOARD_PASSWORD must be at least 8 characters (12 in production)"},
		{"malformed database url", envWith(production, "DATABASE_URL", "postgres://herald:hunter2@db:notaport/herald"), nil,
			"herald: invalid DATABASE_URL: want a URL like postgres://user:password@host:5432/herald or key=value settings"},
		{"malformed database url for migrate", map[string]string{"DATABASE_URL": "postgres://herald:hunter2@db:notaport/herald"}, []string{"migrate"},
			"herald: invalid DATABASE_URL: want a URL like postgres://user:password@host:5432/herald or key=value settings"},
		{"malformed database url for bench", map[string]string{"DATABASE_URL": "postgres://herald:hunter2@db:notaport/herald"}, []string{"bench"},
			"herald: invalid DATABASE_URL: want a URL like postgres://user:password@host:5432/herald or key=value settings"},
		{"no database url", envWith(production, "DATABASE_URL", ""), nil, "herald: DATABASE_URL is required (or --database-url)"},
		{"keyring entry without id", envWith(production, "HERALD_SECRETS", key), nil,
			"herald: invalid HERALD_SECRETS: entry 1: want kid:base64key"},
		{"short key", envWith(production, "HERALD_SECRETS", "k1:"+base64.StdEncoding.EncodeToString([]byte("too short"))), nil,
			`herald: invalid HERALD_SECRETS: key "k1" is 9 bytes: want at least 32`},
		{"short single secret", envWith(production, "HERALD_SECRETS", "", "HERALD_SECRET", "hunter2"), nil,
			"herald: invalid HERALD_SECRET: must be at least 32 characters"},
		{"single secret's id taken by another key", envWith(production, "HERALD_SECRETS", seal.KeyID([]byte(legacy))+":"+key, "HERALD_SECRET", legacy), nil,
			`herald: HERALD_SECRET beside HERALD_SECRETS: key id "` + seal.KeyID([]byte(legacy)) + `" appears twice with different keys`},
		{"unknown environment", envWith(production, "HERALD_ENV", "staging"), nil, `herald: invalid HERALD_ENV "staging": want dev or production`},
		{"unknown flag", production, []string{"--colour", "red"}, "herald: flag provided but not defined: -colour"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			args := tt.args
			if args == nil {
				args = []string{"serve"}
			} else if args[0] != "migrate" && args[0] != "bench" {
				args = append([]string{"serve"}, args...)
			}
			res := runHerald(t, tt.env, args...)
			require.Equal(t, exitUsage, res.code, "stderr: %s", res.stderr)
			require.Equal(t, tt.line+"\n", res.stderr, "one exact line")
			require.Empty(t, res.stdout)
			for _, secret := range []string{key, legacy, "hunter2"} {
				require.NotContains(t, res.stderr, secret)
			}
		})
	}

	t.Run("complete production configuration", func(t *testing.T) {
		t.Parallel()

		res := runHerald(t, envWith(production, "DATABASE_URL", closedDatabaseURL(t)), "serve")
		require.Equal(t, 1, res.code, "the configuration is accepted; the database is not there: %s", res.stderr)
		require.Contains(t, res.stderr, "connect to Postgres")
	})
}

// In dev without HERALD_PUBLIC_URL, hosted page links use the listener's
// address, and a wildcard one becomes the loopback address (never
// http://[::]:8080).
func TestDevPublicURL(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct{ addr, want string }{
		{"0.0.0.0:8080", "http://127.0.0.1:8080"},
		{"[::]:8080", "http://127.0.0.1:8080"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"192.0.2.10:9000", "http://192.0.2.10:9000"},
		{"[2001:db8::1]:443", "http://[2001:db8::1]:443"},
	} {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		require.NoError(t, err)
		require.Equal(t, tt.want, devPublicURL(addr), tt.addr)
	}

	ts := startServer(t, func(c *Config) { c.Addr = "0.0.0.0:0" })
	require.True(t, strings.HasPrefix(ts.URL(), "http://127.0.0.1:"), ts.URL())
	_, key := ts.newMerchant(t, "Acme")
	r := ts.call(t, "POST", "/v1/checkout/sessions", key, sessionBody())
	require.True(t, strings.HasPrefix(r.Body["url"].(string), ts.URL()+"/pay/cs_"), r.Raw)
}
