package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/webhook"
)

// getReady fetches a /readyz answer.
func getReady(t *testing.T, url string) (int, readiness) {
	t.Helper()
	status, body := httpGet(t, url)
	var res readiness
	require.NoError(t, json.Unmarshal([]byte(body), &res), body)
	return status, res
}

// With HERALD_ADMIN_ADDR the operations endpoints move to the admin
// listener, profiler included, and the public listener serves none of them
// while the API goes on as before.
func TestAdminListener(t *testing.T) {
	t.Parallel()

	dbURL := pgtest.NewDatabase(t)
	admin := "http://" + freeAddr(t)
	p := newHeraldProcess(t, dbURL, "HERALD_ADMIN_ADDR="+strings.TrimPrefix(admin, "http://"), "HERALD_PPROF=true")
	p.startAt(t, admin+"/healthz", "serve")

	status, body := httpGet(t, admin+"/healthz")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"status":"ok"}`, body)
	status, ready := getReady(t, admin+"/readyz")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, readiness{Status: "ready", Checks: map[string]string{"database": "ok", "migrations": "ok", "river": "ok"}}, ready)
	status, body = httpGet(t, admin+"/debug/pprof/")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "goroutine")
	status, body = httpGet(t, admin+"/debug/pprof/goroutine?debug=1")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "goroutine profile")

	for _, path := range []string{"/metrics", "/healthz", "/readyz", "/debug/pprof/", "/debug/pprof/goroutine"} {
		status, _ := httpGet(t, p.url()+path)
		require.Equal(t, http.StatusNotFound, status, "the public listener does not serve %s", path)
	}
	key := merchantKey(t, dbURL)
	r := callAt(t, p.url(), http.MethodPost, "/v1/checkout/sessions", key, sessionBody())
	require.Equal(t, http.StatusOK, r.Status, r.Raw)

	waitFor(t, 20*time.Second, "the leader's gauges", func() bool {
		_, metrics := httpGet(t, admin+"/metrics")
		return strings.Contains(metrics, "herald_leader 1") && strings.Contains(metrics, `herald_queue_jobs{queue="delivery",state="available"}`)
	})
	_, metrics := httpGet(t, admin+"/metrics")
	require.Contains(t, metrics, `herald_http_requests_total{method="POST",route="/v1/checkout/sessions",status_class="2xx"} 1`)
	require.Regexp(t, `herald_build_info\{go_version="`+regexp.QuoteMeta(runtime.Version())+`",revision="[^"]+",version="[^"]+"\} 1`, metrics)
	require.Contains(t, metrics, `herald_queue_oldest_job_age_seconds{queue="delivery"}`)
	require.NotContains(t, metrics, `route="/metrics"`, "the admin listener's own requests are not the API's")
}

// Without an admin listener the public one serves /metrics, /healthz and
// /readyz, but never the profiler.
func TestOpsOnPublicListener(t *testing.T) {
	t.Parallel()

	ts := startServer(t, func(c *Config) { c.Roles = []string{roleAPI} })
	require.Empty(t, ts.AdminURL())
	status, ready := getReady(t, ts.URL()+"/readyz")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, map[string]string{"database": "ok", "migrations": "ok"}, ready.Checks, "an API process runs no River workers to check")
	status, _ = httpGet(t, ts.URL()+"/debug/pprof/")
	require.Equal(t, http.StatusNotFound, status)
	status, metrics := httpGet(t, ts.URL()+"/metrics")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, metrics, "herald_leader 0", "a process without workers is never the leader")
	require.NotContains(t, metrics, "herald_endpoints{", "nor does it export the cluster's gauges")
}

// /readyz says 503 with the reason while the database is down, and ready
// again once it is back; /healthz, liveness, stays 200 throughout, so an
// orchestrator stops sending traffic without restarting Herald.
func TestReadyzWithoutDatabase(t *testing.T) {
	t.Parallel()

	cluster := pgtest.NewCluster(t)
	ts := startServer(t, func(c *Config) {
		c.DatabaseURL = cluster.URL()
		c.Migrate = true
		c.AdminAddr = "127.0.0.1:0"
	})
	admin := ts.AdminURL()
	status, _ := getReady(t, admin+"/readyz")
	require.Equal(t, http.StatusOK, status)

	cluster.Crash(t)
	status, ready := getReady(t, admin+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "unavailable", ready.Status)
	require.Equal(t, "database unreachable", ready.Reason)
	require.Equal(t, map[string]string{"database": "unreachable", "migrations": "unknown", "river": "ok"}, ready.Checks)
	status, _ = httpGet(t, admin+"/healthz")
	require.Equal(t, http.StatusOK, status)

	cluster.Start(t)
	waitFor(t, 30*time.Second, "ready again", func() bool {
		status, _ := getReady(t, admin+"/readyz")
		return status == http.StatusOK
	})
}

// A binary newer than its database is not ready: /readyz names the
// migrations it lacks, Herald's and River's, until they are applied.
func TestReadyzWithPendingMigrations(t *testing.T) {
	t.Parallel()

	ts := startServer(t, func(c *Config) { c.AdminAddr = "127.0.0.1:0" })
	ctx := context.Background()
	pool := ts.Pool()
	var latest int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT max(version_id) FROM goose_db_version`).Scan(&latest))
	_, err := pool.Exec(ctx, `DELETE FROM goose_db_version WHERE version_id = $1`, latest)
	require.NoError(t, err)

	status, ready := getReady(t, ts.AdminURL()+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "pending", ready.Checks["migrations"])
	require.Equal(t, "herald migrations pending: "+strconv.FormatInt(latest, 10)+" (run herald migrate)", ready.Reason)

	_, err = pool.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, latest)
	require.NoError(t, err)
	var riverLatest int
	require.NoError(t, pool.QueryRow(ctx, `DELETE FROM river_migration WHERE version = (SELECT max(version) FROM river_migration) RETURNING version`).Scan(&riverLatest))
	status, ready = getReady(t, ts.AdminURL()+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Contains(t, ready.Reason, "river: Unapplied migrations: ["+strconv.Itoa(riverLatest)+"]")

	_, err = pool.Exec(ctx, `INSERT INTO river_migration (line, version) VALUES ('main', $1)`, riverLatest)
	require.NoError(t, err)
	status, _ = getReady(t, ts.AdminURL()+"/readyz")
	require.Equal(t, http.StatusOK, status)
}

// A worker is ready once River has started, and not once it drains.
func TestReadyzFollowsRiver(t *testing.T) {
	t.Parallel()

	cfg := Config{
		DatabaseURL: pgtest.NewDatabase(t), Addr: "127.0.0.1:0", Env: envDev, Roles: []string{roleWorker},
		RateLimit: 10, ExpiryInterval: time.Minute, ShutdownTimeout: 5 * time.Second, DeliveryTimeout: time.Second,
		InflightPerEndpoint: 1, InflightPerMerchant: 1, SweepInterval: time.Minute, BreakerOpenFor: time.Second,
		DisableEndpointAfter: time.Hour, DeliveryWorkers: 1, FetchCooldown: 10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond, RescueAfter: time.Minute,
	}
	ctx := context.Background()
	srv, err := NewServer(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	ask := func() (int, readiness) {
		rec := httptest.NewRecorder()
		srv.handleReady(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var res readiness
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &res))
		return rec.Code, res
	}
	status, ready := ask()
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "river not started", ready.Reason)

	require.NoError(t, srv.Start(ctx))
	status, _ = ask()
	require.Equal(t, http.StatusOK, status)

	require.NoError(t, srv.Shutdown(ctx))
	status, ready = ask()
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Contains(t, ready.Reason, "shutting down")
	require.Contains(t, ready.Reason, "river stopped")
	require.Equal(t, "stopped", ready.Checks["river"])
}

// herald healthcheck, the image's healthcheck: exit 0 when /readyz says
// ready, 1 with the reason when not or when nothing answers, 2 for a bad
// address. A wildcard listen address reaches the local listener.
func TestHealthcheckCommand(t *testing.T) {
	t.Parallel()

	answer := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/readyz" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	ready := answer(http.StatusOK, `{"status":"ready","checks":{"database":"ok"}}`)
	_, readyPort, _ := strings.Cut(ready, ":")
	unready := answer(http.StatusServiceUnavailable, `{"status":"unavailable","reason":"database unreachable"}`)
	// A port that hangs up on every connection: unlike a port found free
	// and closed again, no parallel test can start listening on it.
	hangUp, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = hangUp.Close() })
	go func() {
		for {
			conn, err := hangUp.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			_ = conn.Close()
		}
	}()
	for _, tt := range []struct {
		name        string
		env         map[string]string
		args        []string
		code        int
		out, errOut string
	}{
		{"ready on the admin listener", map[string]string{"HERALD_ADMIN_ADDR": ready, "HERALD_ADDR": unready}, nil, 0, "ready\n", ""},
		{"wildcard address", map[string]string{"HERALD_ADMIN_ADDR": "0.0.0.0:" + readyPort}, nil, 0, "ready\n", ""},
		{"port only", map[string]string{"HERALD_ADMIN_ADDR": ":" + readyPort}, nil, 0, "ready\n", ""},
		{"public listener without an admin one", map[string]string{"HERALD_ADDR": ready}, nil, 0, "ready\n", ""},
		{"not ready", map[string]string{"HERALD_ADMIN_ADDR": unready}, nil, 1, "", "herald: not ready: 503 Service Unavailable database unreachable\n"},
		{"explicit url", nil, []string{"--url", "http://" + unready + "/readyz"}, 1, "", "herald: not ready: 503 Service Unavailable database unreachable\n"},
		{"nothing answering", map[string]string{"HERALD_ADMIN_ADDR": hangUp.Addr().String()}, nil, 1, "", "herald: not ready: "},
		{"bad address", map[string]string{"HERALD_ADMIN_ADDR": "9090"}, nil, exitUsage, "", `herald: invalid address "9090": want host:port` + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var stdout, stderr strings.Builder
			code := run(context.Background(), append([]string{"healthcheck"}, tt.args...), func(k string) string { return tt.env[k] }, &stdout, &stderr)
			require.Equal(t, tt.code, code, stderr.String())
			require.Equal(t, tt.out, stdout.String())
			require.True(t, strings.HasPrefix(stderr.String(), tt.errOut), "stderr %q", stderr.String())
			if tt.errOut == "" {
				require.Empty(t, stderr.String())
			}
		})
	}
}

// HTTP metrics name route patterns, never paths: no session id reaches
// /metrics. A client's X-Request-Id comes back as Request-Id and in the log
// line, unless it is unsafe to log.
func TestHTTPRequestsObserved(t *testing.T) {
	t.Parallel()

	ts := startServer(t)
	_, key := ts.newMerchant(t, "Acme")
	r := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, sessionBody(), "X-Request-Id", "lb-7f3a9c")
	require.Equal(t, http.StatusOK, r.Status)
	require.Equal(t, "lb-7f3a9c", r.Header.Get("Request-Id"))
	require.Contains(t, ts.logs.String(), `path=/v1/checkout/sessions status=200`)
	require.Regexp(t, `msg=request method=POST path=/v1/checkout/sessions status=200 duration=\S+ request_id=lb-7f3a9c`, ts.logs.String())
	r = ts.call(t, http.MethodGet, "/v1/checkout/sessions", key, nil, "X-Request-Id", "two words")
	require.True(t, strings.HasPrefix(r.Header.Get("Request-Id"), "req_"), "replaced: %q", r.Header.Get("Request-Id"))

	sessionID := ts.call(t, http.MethodPost, "/v1/checkout/sessions", key, sessionBody()).Body["id"].(string)
	require.Equal(t, http.StatusOK, ts.call(t, http.MethodGet, "/v1/checkout/sessions/"+sessionID, key, nil).Status)
	status, _ := httpGet(t, ts.URL()+"/pay/"+sessionID)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, http.StatusNotFound, ts.call(t, http.MethodGet, "/v1/checkout/sessions/cs_nope", key, nil).Status)
	require.Equal(t, http.StatusNotFound, ts.call(t, http.MethodGet, "/v1/nothing/"+sessionID, key, nil).Status)
	status, _ = httpGet(t, ts.URL()+"/.env")
	require.Equal(t, http.StatusNotFound, status)

	_, metrics := httpGet(t, ts.URL()+"/metrics")
	for _, line := range []string{
		`herald_http_requests_total{method="POST",route="/v1/checkout/sessions",status_class="2xx"} 2`,
		`herald_http_requests_total{method="GET",route="/v1/checkout/sessions",status_class="2xx"} 1`,
		`herald_http_requests_total{method="GET",route="/v1/checkout/sessions/{id}",status_class="2xx"} 1`,
		`herald_http_requests_total{method="GET",route="/v1/checkout/sessions/{id}",status_class="4xx"} 1`,
		`herald_http_requests_total{method="GET",route="/pay/{id}",status_class="2xx"} 1`,
		`herald_http_requests_total{method="GET",route="unmatched",status_class="4xx"} 2`,
		`herald_http_request_duration_seconds_count{method="GET",route="/pay/{id}"} 1`,
	} {
		require.Contains(t, metrics, line)
	}
	require.NotContains(t, metrics, sessionID)
	require.NotContains(t, metrics, "cs_nope")
	require.NotContains(t, metrics, ".env")
}

// HERALD_LOG_LEVEL and HERALD_LOG_FORMAT reach the logger: at warn, in
// JSON, a worker says nothing of its start or its requests, and still logs
// the WARN line of an endpoint it disabled.
func TestLogSettings(t *testing.T) {
	t.Parallel()

	dbURL := pgtest.NewDatabase(t)
	s := newSink(t, status(http.StatusGone))
	p := newHeraldProcess(t, dbURL, "HERALD_LOG_LEVEL=warn", "HERALD_LOG_FORMAT=json")
	p.start(t)
	key := merchantKey(t, dbURL)
	r := callAt(t, p.url(), http.MethodPost, "/v1/webhook_endpoints", key,
		map[string]any{"url": s.URL + "/hooks", "enabled_events": []string{webhook.TypeCheckoutSessionCompleted}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	endpointID := r.Body["id"].(string)
	pay := &payer{baseURL: p.url, key: key}
	pay.payOnce(context.Background())
	require.Len(t, pay.confirmed, 1)
	waitFor(t, 30*time.Second, "the endpoint's WARN line", func() bool {
		return strings.Contains(p.stderr.String(), `"msg":"webhook endpoint disabled"`)
	})

	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "every line is JSON: %s", sc.Text())
		require.Contains(t, []any{"WARN", "ERROR"}, line["level"], "nothing below warn: %s", sc.Text())
		lines = append(lines, line)
	}
	require.Condition(t, func() bool {
		for _, l := range lines {
			if l["msg"] == "webhook endpoint disabled" && l["endpoint_id"] == endpointID && l["cause"] == "gone" {
				return true
			}
		}
		return false
	}, "the WARN line names the endpoint and the cause")
}

// The new settings: parsed, defaulted after HERALD_ENV, and every mistake
// is one line on stderr and exit 2.
func TestObservabilitySettings(t *testing.T) {
	t.Parallel()

	base := map[string]string{"DATABASE_URL": "postgres://x", "HERALD_ENV": envDev}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want func(t *testing.T, c Config)
	}{
		{"defaults in dev", base, nil, func(t *testing.T, c Config) {
			require.Equal(t, "", c.AdminAddr)
			require.False(t, c.Pprof)
			require.Equal(t, slog.LevelInfo, c.LogLevel)
			require.Equal(t, logText, c.LogFormat)
		}},
		{"json by default in production", envWith(base, "HERALD_ENV", "production", "HERALD_SECRET", strings.Repeat("s", 32), "HERALD_PUBLIC_URL", "https://pay.example.com"), nil, func(t *testing.T, c Config) {
			require.Equal(t, logJSON, c.LogFormat)
		}},
		{"text asked for in production", envWith(base, "HERALD_ENV", "production", "HERALD_SECRET", strings.Repeat("s", 32), "HERALD_PUBLIC_URL", "https://pay.example.com", "HERALD_LOG_FORMAT", "text"), nil,
			func(t *testing.T, c Config) { require.Equal(t, logText, c.LogFormat) }},
		{"flags", base, []string{"--admin-addr", "127.0.0.1:9090", "--pprof=true", "--log-level", "DEBUG", "--log-format", "json"}, func(t *testing.T, c Config) {
			require.Equal(t, "127.0.0.1:9090", c.AdminAddr)
			require.True(t, c.Pprof)
			require.Equal(t, slog.LevelDebug, c.LogLevel)
			require.Equal(t, logJSON, c.LogFormat)
		}},
		{"error level", envWith(base, "HERALD_LOG_LEVEL", "error"), nil, func(t *testing.T, c Config) { require.Equal(t, slog.LevelError, c.LogLevel) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			c, err := parseServeConfig(tt.args, func(k string) string { return tt.env[k] })
			require.NoError(t, err)
			tt.want(t, c)
		})
	}

	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"bad level", envWith(base, "HERALD_LOG_LEVEL", "verbose"), nil, `invalid HERALD_LOG_LEVEL "verbose": want debug, info, warn or error`},
		{"bad format", envWith(base, "HERALD_LOG_FORMAT", "xml"), nil, `invalid HERALD_LOG_FORMAT "xml": want json or text`},
		{"bad admin address", base, []string{"--admin-addr", "9090"}, `invalid HERALD_ADMIN_ADDR "9090": want host:port`},
		{"bad pprof", envWith(base, "HERALD_PPROF", "sometimes"), nil, `invalid HERALD_PPROF "sometimes"`},
		{"pprof without admin listener", envWith(base, "HERALD_PPROF", "true"), nil, "HERALD_PPROF needs HERALD_ADMIN_ADDR"},
		{"admin on the public address", envWith(base, "HERALD_ADDR", "127.0.0.1:8080", "HERALD_ADMIN_ADDR", "127.0.0.1:8080"), nil, "HERALD_ADMIN_ADDR must differ from HERALD_ADDR"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			var stdout, stderr strings.Builder
			code := run(context.Background(), append([]string{"serve"}, tt.args...), func(k string) string { return tt.env[k] }, &stdout, &stderr)
			require.Equal(t, exitUsage, code)
			require.Contains(t, stderr.String(), tt.want)
			require.Equal(t, 1, strings.Count(stderr.String(), "\n"), "one line: %q", stderr.String())
		})
	}
}

// describeBuild prefers the linker's stamp, then the toolchain's record.
func TestDescribeBuild(t *testing.T) {
	t.Parallel()

	for _, tt := range []struct {
		name              string
		version, revision string
		info              *debug.BuildInfo
		want              build
	}{
		{"nothing known", "", "", nil, build{"dev", "unknown", runtime.Version()}},
		{"stamped by make image", "v1.4.0", "abc123", nil, build{"v1.4.0", "abc123", runtime.Version()}},
		{"go install at a version", "", "", toolchainInfo("v1.3.2", "def456"), build{"v1.3.2", "def456", runtime.Version()}},
		{"built in a checkout", "", "", toolchainInfo("(devel)", "0a1b2c"), build{"dev", "0a1b2c", runtime.Version()}},
		{"the stamp wins", "v2.0.0", "fff", toolchainInfo("v1.3.2", "def456"), build{"v2.0.0", "fff", runtime.Version()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, describeBuild(tt.version, tt.revision, tt.info))
		})
	}
}

// toolchainInfo is what the Go toolchain records of a build.
func toolchainInfo(version, revision string) *debug.BuildInfo {
	return &debug.BuildInfo{Main: debug.Module{Path: "github.com/heraldpay/herald", Version: version},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: revision}}}
}
