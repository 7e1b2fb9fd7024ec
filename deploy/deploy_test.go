package deploy_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/internal/id"
	"github.com/heraldpay/herald/internal/pgtest"
)

// requireTool finds an external tool. Where it is missing the test is
// skipped, unless requireEnv is set to 1 (.ci/run sets it, having installed
// the tool), which makes the absence a failure.
func requireTool(t *testing.T, name, requireEnv, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s is required (%s=1) but not installed: apt-get install %s", name, requireEnv, pkg)
	}
	t.Skipf("%s is not installed (apt-get install %s); set %s=1 to fail instead", name, pkg, requireEnv)
	return ""
}

// The alert rules load, and each alert with a unit test fires exactly when
// its test says (alerts_test.yml: no leader, queue backlog, endpoint
// disabled, HTTP errors).
func TestAlertRules(t *testing.T) {
	t.Parallel()

	promtool := requireTool(t, "promtool", "HERALD_REQUIRE_PROMTOOL", "prometheus")
	out, err := exec.Command(promtool, "check", "rules", "prometheus/alerts.yml").CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
	require.Contains(t, string(out), "SUCCESS")
	out, err = exec.Command(promtool, "test", "rules", "prometheus/alerts_test.yml").CombinedOutput()
	require.NoError(t, err, "promtool test rules:\n%s", out)
	require.Contains(t, string(out), "SUCCESS")
}

// Every query of the Grafana dashboard is valid PromQL: promtool parses
// each as a recording rule. (cmd/herald's tests check that every metric
// they name exists.)
func TestGrafanaQueriesParse(t *testing.T) {
	t.Parallel()

	promtool := requireTool(t, "promtool", "HERALD_REQUIRE_PROMTOOL", "prometheus")
	raw, err := os.ReadFile("grafana/herald.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: grafana\n    rules:\n")
	n := 0
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			expr, err := json.Marshal(target.Expr) // a JSON string is a YAML string
			require.NoError(t, err)
			n++
			fmt.Fprintf(&rules, "      - record: grafana:panel_%d\n        expr: %s\n", n, expr)
		}
	}
	require.Positive(t, n)
	file := filepath.Join(t.TempDir(), "grafana-queries.yml")
	require.NoError(t, os.WriteFile(file, []byte(rules.String()), 0o644))
	out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s", out)
	require.Contains(t, string(out), fmt.Sprintf("SUCCESS: %d rules found", n))
}

// unitFile reads a systemd unit into section → key → values.
func unitFile(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	out := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			out[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "line %q", line)
			out[section][k] = append(out[section][k], v)
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// The systemd unit runs `herald serve` as an unprivileged user with its
// configuration from a file, restarts it on failure (not on a
// configuration error), confines it, and every directive is one systemd
// knows.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()

	unit := unitFile(t, "herald.service")
	svc := unit["Service"]
	for key, want := range map[string]string{
		"ExecStart":                "/usr/local/bin/herald serve",
		"User":                     "herald",
		"EnvironmentFile":          "/etc/herald/herald.env",
		"Restart":                  "on-failure",
		"RestartPreventExitStatus": "2",
		"NoNewPrivileges":          "yes",
		"ProtectSystem":            "strict",
		"ProtectHome":              "yes",
		"PrivateTmp":               "yes",
		"PrivateDevices":           "yes",
		"CapabilityBoundingSet":    "",
	} {
		require.Equal(t, []string{want}, svc[key], key)
	}
	require.Equal(t, []string{"multi-user.target"}, unit["Install"]["WantedBy"])

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the directives were not verified by systemd")
		return
	}
	// verify wants ExecStart to exist: point it at a real executable.
	raw, err := os.ReadFile("herald.service")
	require.NoError(t, err)
	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	copyPath := filepath.Join(dir, "herald.service")
	require.NoError(t, os.WriteFile(copyPath, bytes.ReplaceAll(raw, []byte("/usr/local/bin/herald"), []byte(exe)), 0o644))
	out, err := exec.Command(analyze, "verify", copyPath).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Empty(t, strings.TrimSpace(string(out)), "systemd-analyze verify warns about nothing (an unknown key is only a warning)")
}

// imageConfig is what podman image inspect says of an image's config.
type imageConfig struct {
	Config struct {
		User         string
		Entrypoint   []string
		Cmd          []string
		Env          []string
		ExposedPorts map[string]struct{}
		Labels       map[string]string
	}
}

// make image builds a FROM scratch image holding the static binary, owned
// by nobody's numeric user, with the CA bundle and nothing else; the same
// binary, run outside the container (podman cannot run containers here),
// serves, reports its stamped version and passes its own healthcheck.
func TestImage(t *testing.T) {
	t.Parallel()

	podman := requireTool(t, "podman", "HERALD_REQUIRE_PODMAN", "podman")
	ctx := context.Background()
	suffix := strings.ToLower(id.Random(8))
	image, version, revision := "localhost/herald-test:"+suffix, "v0.0.0-test."+suffix, "rev"+suffix
	dir := t.TempDir()
	build := exec.Command("../scripts/image")
	build.Env = append(os.Environ(), "IMAGE="+image, "IMAGE_DIR="+dir, "VERSION="+version, "REVISION="+revision, "CONTAINER="+podman)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "scripts/image:\n%s", out)
	t.Cleanup(func() { _ = exec.Command(podman, "rmi", "--force", image).Run() })
	require.Equal(t, image, lastLine(string(out)), "make image prints the image's name")

	raw, err := exec.Command(podman, "image", "inspect", image).Output()
	require.NoError(t, err)
	var inspected []imageConfig
	require.NoError(t, json.Unmarshal(raw, &inspected))
	require.Len(t, inspected, 1)
	cfg := inspected[0].Config
	require.Equal(t, "65532:65532", cfg.User, "a numeric non-root user: no passwd file in scratch")
	require.Equal(t, []string{"/herald"}, cfg.Entrypoint)
	require.Equal(t, []string{"serve"}, cfg.Cmd)
	require.Contains(t, cfg.ExposedPorts, "8080/tcp")
	require.Contains(t, cfg.ExposedPorts, "9090/tcp")
	require.Contains(t, cfg.Env, "HERALD_ADDR=0.0.0.0:8080")
	require.Contains(t, cfg.Env, "HERALD_ADMIN_ADDR=0.0.0.0:9090")
	require.Equal(t, version, cfg.Labels["org.opencontainers.image.version"])
	require.Equal(t, revision, cfg.Labels["org.opencontainers.image.revision"])

	// The file system: the binary built outside, the CA bundle, nothing else.
	ctr, err := exec.Command(podman, "create", image).Output()
	require.NoError(t, err)
	ctrID := strings.TrimSpace(string(ctr))
	t.Cleanup(func() { _ = exec.Command(podman, "rm", "--force", ctrID).Run() })
	export, err := exec.Command(podman, "export", ctrID).Output()
	require.NoError(t, err)
	files := map[string]*tar.Header{}
	sums := map[string][32]byte{}
	tr := tar.NewReader(bytes.NewReader(export))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeDir {
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[h.Name], sums[h.Name] = h, sha256.Sum256(b)
	}
	require.Len(t, files, 2, "only the binary and the CA bundle: %v", files)
	require.Contains(t, files, "herald")
	require.Contains(t, files, "etc/ssl/certs/ca-certificates.crt")
	require.Equal(t, int64(0o755), files["herald"].Mode&0o777, "executable by the non-root user")
	require.Equal(t, int64(0o644), files["etc/ssl/certs/ca-certificates.crt"].Mode&0o777)
	binary, err := os.ReadFile(filepath.Join(dir, "herald"))
	require.NoError(t, err)
	require.Equal(t, sha256.Sum256(binary), sums["herald"], "the image holds the binary built outside")

	// That binary, outside the container: static, serving, stamped.
	fileOut, err := exec.Command("file", filepath.Join(dir, "herald")).Output()
	if err == nil {
		require.Contains(t, string(fileOut), "statically linked")
	}
	admin := freeAddr(t)
	env := []string{"DATABASE_URL=" + pgtest.NewDatabase(t), "HERALD_ADDR=" + freeAddr(t), "HERALD_ADMIN_ADDR=" + admin, "HERALD_ENV=dev"}
	serve := exec.Command(filepath.Join(dir, "herald"), "serve")
	serve.Env = env
	var logs bytes.Buffer
	serve.Stderr = &logs
	require.NoError(t, serve.Start())
	t.Cleanup(func() {
		_ = serve.Process.Kill()
		_ = serve.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		check := exec.CommandContext(ctx, filepath.Join(dir, "herald"), "healthcheck")
		check.Env = env
		if out, err := check.CombinedOutput(); err == nil {
			require.Equal(t, "ready\n", string(out))
			break
		}
		if time.Now().After(deadline) {
			_ = serve.Process.Kill()
			_ = serve.Wait()
			t.Fatalf("the image's binary never became ready:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	resp, err := http.Get("http://" + admin + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	metrics, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, string(metrics), `herald_build_info{go_version="`+runtime.Version()+`",revision="`+revision+`",version="`+version+`"} 1`)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}
