package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/internal/syncbuf"
	"github.com/heraldpay/herald/webhook"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

// metricNameRE finds Herald's metric names in rule and dashboard files.
var metricNameRE = regexp.MustCompile(`\bherald_[a-z0-9_]+\b`)

// Every metric the alert rules and the Grafana dashboard name exists in
// Herald's registry (histograms through their _bucket, _sum and _count
// series), so a renamed metric cannot leave an alert silently empty; and
// the dashboard is well-formed JSON whose every panel queries something.
func TestDeployQueriesKnownMetrics(t *testing.T) {
	t.Parallel()

	// A delivery, an API request and the leader's gauges give every
	// family at least one series.
	f := newDeliveryFixture(t, nil)
	f.pay(t)
	f.waitDeliveries(t, "succeeded", 1)
	families := map[string]dto.MetricType{}
	waitFor(t, 20*time.Second, "the leader's gauges", func() bool {
		gathered, err := f.ts.registry.Gather()
		require.NoError(t, err)
		for _, fam := range gathered {
			families[fam.GetName()] = fam.GetType()
		}
		_, ok := families["herald_queue_oldest_job_age_seconds"]
		return ok
	})
	known := func(name string) bool {
		if _, ok := families[name]; ok {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok {
				if typ, ok := families[base]; ok && (typ == dto.MetricType_HISTOGRAM || typ == dto.MetricType_SUMMARY) {
					return true
				}
			}
		}
		return false
	}

	for _, file := range []string{"deploy/prometheus/alerts.yml", "deploy/prometheus/alerts_test.yml", "deploy/grafana/herald.json"} {
		raw, err := os.ReadFile(filepath.Join(repoRoot, file))
		require.NoError(t, err)
		names := slices.Compact(slices.Sorted(slices.Values(metricNameRE.FindAllString(string(raw), -1))))
		require.NotEmpty(t, names, file)
		for _, name := range names {
			require.True(t, known(name), "%s names %s, which Herald does not export", file, name)
		}
	}

	var dash struct {
		UID        string
		Title      string
		Templating struct{ List []struct{ Name, Type string } }
		Panels     []struct {
			ID      int
			Type    string
			Title   string
			GridPos struct{ H, W, X, Y int }
			Targets []struct{ RefID, Expr string }
		}
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "deploy/grafana/herald.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.Equal(t, "herald", dash.UID)
	require.Equal(t, "datasource", dash.Templating.List[0].Name, "the Prometheus data source is chosen on import")
	ids := map[int]bool{}
	var queried []string
	for _, p := range dash.Panels {
		require.False(t, ids[p.ID], "panel id %d is unique", p.ID)
		ids[p.ID] = true
		require.LessOrEqual(t, p.GridPos.X+p.GridPos.W, 24, "panel %q fits the grid", p.Title)
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q queries something", p.Title)
		for _, target := range p.Targets {
			require.NotEmpty(t, target.Expr, "panel %q", p.Title)
			queried = append(queried, metricNameRE.FindAllString(target.Expr, -1)...)
		}
	}
	for _, want := range []string{"herald_delivery_attempts_total", "herald_delivery_lag_seconds_bucket", "herald_queue_jobs",
		"herald_queue_oldest_job_age_seconds", "herald_breakers_open", "herald_http_requests_total"} {
		require.Contains(t, queried, want, "the dashboard shows %s", want)
	}
}

// composeProject loads compose.yaml the way docker compose does (schema
// validation, merge keys, interpolation) with .env.example as its .env.
func composeProject(t *testing.T) *types.Project {
	t.Helper()
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "compose.yaml")},
		cli.WithWorkingDirectory(root), cli.WithEnvFiles(filepath.Join(root, ".env.example")), cli.WithDotEnv)
	require.NoError(t, err)
	project, err := opts.LoadProject(context.Background())
	require.NoError(t, err)
	return project
}

// composeProcess is one container of the compose stack, run as a process
// of the test binary with the service's command and environment.
type composeProcess struct {
	*heraldProcess
	service string
	admin   string
}

// composeEnv is a service's environment from compose.yaml, with the
// addresses a test on one machine must change: the database, and loopback
// ports instead of each container's own 8080 and 9090. Delivering to the
// test's sink on loopback also needs dev, which allows private endpoints
// and http URLs; production refuses both by design.
func composeEnv(t *testing.T, svc types.ServiceConfig, overrides map[string]string) []string {
	t.Helper()
	env := map[string]string{}
	for k, v := range svc.Environment {
		require.NotNil(t, v, "%s: %s takes its value from the host, which the test cannot reproduce", svc.Name, k)
		env[k] = *v
	}
	for k, v := range overrides {
		require.Contains(t, env, k, "%s: compose.yaml sets %s", svc.Name, k)
		env[k] = v
	}
	out := []string{envExecMain + "=1", "HERALD_ALLOW_PRIVATE_ENDPOINTS=127.0.0.0/8"}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// The compose stack, outside containers (podman cannot run them here): one
// `herald migrate`, the API and two workers, each with its service's
// command and environment read from compose.yaml, on a database only the
// migrate service prepares. A payment's webhook is delivered exactly once,
// every process passes the image's healthcheck, and exactly one of them is
// the leader exporting the cluster's gauges.
func TestComposeStack(t *testing.T) {
	t.Parallel()

	project := composeProject(t)
	svc := func(name string) types.ServiceConfig {
		s, ok := project.Services[name]
		require.True(t, ok, "compose.yaml has a %s service", name)
		return s
	}
	pg := svc("postgres")
	require.Len(t, pg.Volumes, 1)
	require.Equal(t, "volume", pg.Volumes[0].Type, "PostgreSQL keeps its data in a named volume")
	require.Contains(t, project.Volumes, pg.Volumes[0].Source)
	migrate, api, worker := svc("migrate"), svc("api"), svc("worker")
	require.Equal(t, types.ShellCommand{"migrate"}, migrate.Command)
	require.Equal(t, "no", migrate.Restart, "migrate runs once")
	require.Equal(t, "service_healthy", migrate.DependsOn["postgres"].Condition)
	require.Equal(t, 2, worker.GetScale(), "two workers")
	for _, s := range []types.ServiceConfig{api, worker} {
		require.Equal(t, "service_completed_successfully", s.DependsOn["migrate"].Condition, "%s starts after the migrations", s.Name)
		require.NotNil(t, s.HealthCheck, s.Name)
		require.Equal(t, "/herald", s.HealthCheck.Test[1], "%s's healthcheck is the binary itself", s.Name)
		require.Equal(t, "production", *s.Environment["HERALD_ENV"])
		require.Equal(t, "false", *s.Environment["HERALD_MIGRATE"], "only the migrate service migrates")
	}

	dbURL := pgtest.NewEmptyDatabase(t)
	apiAddr := freeAddr(t)
	overrides := func(addr, admin string) map[string]string {
		return map[string]string{"DATABASE_URL": dbURL, "HERALD_ADDR": addr, "HERALD_ADMIN_ADDR": admin,
			"HERALD_ENV": envDev, "HERALD_PUBLIC_URL": "http://" + apiAddr}
	}

	// The one-shot migration.
	cmd := exec.Command(os.Args[0], migrate.Command...)
	cmd.Env = composeEnv(t, migrate, overrides(freeAddr(t), freeAddr(t)))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "migrations applied")

	// The long-running services, each waited for with its healthcheck.
	start := func(s types.ServiceConfig, addr string) *composeProcess {
		admin := freeAddr(t)
		p := &composeProcess{heraldProcess: &heraldProcess{addr: addr, stderr: &syncbuf.Buffer{}}, service: s.Name, admin: admin}
		p.env = composeEnv(t, s, overrides(addr, admin))
		t.Cleanup(p.kill)
		p.launch(t, s.Command...)
		check := slices.Clone(s.HealthCheck.Test[2:])
		waitFor(t, 30*time.Second, s.Name+"'s healthcheck", func() bool {
			c := exec.Command(os.Args[0], check...)
			c.Env = p.env
			return c.Run() == nil
		})
		return p
	}
	procs := []*composeProcess{start(api, apiAddr)}
	for range worker.GetScale() {
		procs = append(procs, start(worker, freeAddr(t)))
	}

	// A merchant as an operator would make one: `herald merchant create`
	// with the api service's environment.
	create := exec.Command(os.Args[0], "merchant", "create", "--name", "Acme", "--json")
	create.Env = procs[0].env
	out, err = create.Output()
	require.NoError(t, err)
	var merchant struct {
		SecretKey string `json:"secret_key"`
	}
	require.NoError(t, json.Unmarshal(out, &merchant))

	s := newSink(t, nil)
	r := callAt(t, procs[0].url(), http.MethodPost, "/v1/webhook_endpoints", merchant.SecretKey,
		map[string]any{"url": s.URL + "/hooks", "enabled_events": []string{webhook.TypeCheckoutSessionCompleted}})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	pay := &payer{baseURL: procs[0].url, key: merchant.SecretKey}
	pay.payOnce(context.Background())
	require.Len(t, pay.confirmed, 1, "the payment succeeded")
	waitFor(t, 30*time.Second, "the delivery to succeed", func() bool {
		r := callAt(t, procs[0].url(), http.MethodGet, "/v1/deliveries?status=succeeded", merchant.SecretKey, nil)
		return r.Status == http.StatusOK && len(r.Body["data"].([]any)) == 1
	})
	reqs := s.Requests()
	require.Len(t, reqs, 1, "delivered exactly once")
	var ev webhook.Event
	require.NoError(t, json.Unmarshal(reqs[0].Body, &ev))
	require.Equal(t, webhook.TypeCheckoutSessionCompleted, ev.Type)

	// Every process is ready; one leader among them exports the cluster's
	// gauges; the workers, not the API, delivered.
	waitFor(t, 20*time.Second, "exactly one leader", func() bool {
		leaders, withGauges := 0, 0
		for _, p := range procs {
			m := scrapeAt(t, "http://"+p.admin)
			leaders += int(m["herald_leader"])
			if _, ok := m[`herald_queue_jobs{queue="delivery",state="available"}`]; ok {
				withGauges++
			}
		}
		return leaders == 1 && withGauges == 1
	})
	successes := 0.0
	for _, p := range procs {
		status, ready := getReady(t, "http://"+p.admin+"/readyz")
		require.Equal(t, http.StatusOK, status, "%s: %+v", p.service, ready)
		m := scrapeAt(t, "http://"+p.admin)
		successes += m[`herald_delivery_attempts_total{result="success",status_class="2xx"}`]
		if p.service == api.Name {
			require.Equal(t, 0.0, m["herald_leader"], "the API process never leads")
			status, _ := httpGet(t, p.url()+"/metrics")
			require.Equal(t, http.StatusNotFound, status, "metrics only on the admin port")
		}
	}
	require.Equal(t, 1.0, successes, "one attempt in all, by a worker")

	// compose.yaml asks for JSON logs: every line of every process is.
	for _, p := range procs {
		sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
		for sc.Scan() {
			require.True(t, json.Valid(sc.Bytes()), "%s logs JSON: %s", p.service, sc.Text())
		}
	}
}

// scrapeAt reads a /metrics page as `name{labels}` → value.
func scrapeAt(t *testing.T, base string) map[string]float64 {
	t.Helper()
	status, body := httpGet(t, base+"/metrics")
	require.Equal(t, http.StatusOK, status)
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		require.NoError(t, err, line)
		out[line[:i]] = v
	}
	return out
}
