package sdkmodules

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// serverDeps are modules only Herald's server may need: a merchant who
// imports the SDK must not get them, not even as go.sum lines.
var serverDeps = []string{
	"github.com/riverqueue/",
	"riverqueue.com/",
	"github.com/go-chi/",
	"github.com/pressly/goose",
	"github.com/prometheus/",
	"github.com/sony/gobreaker",
	"github.com/chromedp/",
	"github.com/heraldpay/herald ", // the server module itself
}

// consumerMain uses every package of the SDK it imports, with Go 1.23's
// range over functions, as a merchant's program would.
const consumerMain = `package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/heraldpay/herald/client"
	"github.com/heraldpay/herald/receiver"
	"github.com/heraldpay/herald/webhook"
	IMPORTS
)

func main() {
	ctx := context.Background()
	herald := client.New("http://127.0.0.1:8080", "sk_test_x")
	store := STORE
	fulfiller := receiver.NewFulfiller(store, func(ctx context.Context, s *webhook.CheckoutSession, via string) error {
		fmt.Println("ship", s.ClientReferenceID, s.AmountTotal, s.Metadata, via)
		return nil
	})
	h, err := receiver.NewHandler(store, webhook.NewSecret())
	if err != nil {
		panic(err)
	}
	h.On(webhook.TypeCheckoutSessionCompleted, fulfiller.HandleCompleted)
	http.Handle("POST /webhooks/herald", h)
	http.HandleFunc("GET /success", func(w http.ResponseWriter, r *http.Request) {
		s, err := herald.Sessions.Get(r.Context(), r.URL.Query().Get("session_id"))
		if err == nil {
			_, err = fulfiller.Fulfil(r.Context(), s, receiver.ViaSuccessPage)
		}
		fmt.Fprintln(w, err)
	})
	for ev, err := range herald.Events.List(ctx, client.EventListParams{DeliverySuccess: client.Bool(false)}) {
		fmt.Println(ev, err)
		break
	}
}
`

// TestSDKModulesStandAlone makes a merchant's module in a temporary
// folder that requires the SDK's modules from this checkout, runs go mod
// tidy, builds and vets it, and reads what it got.
func TestSDKModulesStandAlone(t *testing.T) {
	t.Parallel()

	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	for _, tt := range []struct {
		name    string
		goLine  string
		modules []string
		imports string
		store   string
		// want and wantNot are modules the consumer's go.mod must and
		// must not require.
		want, wantNot []string
	}{
		{
			name: "webhook, client and receiver", goLine: "1.23",
			modules: []string{"webhook", "client", "receiver"},
			store:   "receiver.NewMemoryStore()",
			wantNot: []string{"github.com/jackc/pgx"},
		},
		{
			name: "and pgstore", goLine: "1.23.0",
			modules: []string{"webhook", "client", "receiver", "receiver/pgstore"},
			imports: `"github.com/heraldpay/herald/receiver/pgstore"
	"github.com/jackc/pgx/v5/pgxpool"`,
			store: "func() receiver.Store { s, _ := pgstore.New((*pgxpool.Pool)(nil), \"shop.once\"); return s }()",
			want:  []string{"github.com/jackc/pgx/v5 v5.7.6"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			dir := t.TempDir()
			var mod strings.Builder
			mod.WriteString("module example.com/shop\n\ngo " + tt.goLine + "\n\nrequire (\n")
			for _, m := range tt.modules {
				mod.WriteString("\tgithub.com/heraldpay/herald/" + m + " v0.0.0-00010101000000-000000000000\n")
			}
			if len(tt.want) > 0 {
				mod.WriteString("\tgithub.com/jackc/pgx/v5 v5.7.6\n")
			}
			mod.WriteString(")\n\nreplace (\n")
			for _, m := range tt.modules {
				mod.WriteString("\tgithub.com/heraldpay/herald/" + m + " => " + filepath.Join(root, m) + "\n")
			}
			mod.WriteString(")\n")
			writeFile(t, filepath.Join(dir, "go.mod"), mod.String())
			writeFile(t, filepath.Join(dir, "main.go"), strings.NewReplacer("IMPORTS", tt.imports, "STORE", tt.store).Replace(consumerMain))

			goCmd(t, dir, "mod", "tidy")
			goCmd(t, dir, "build", "./...")
			// vet's stdversion check runs on each SDK package at its own
			// module's go version: nothing newer than Go 1.23 is used.
			pkgs := []string{"./..."}
			for _, m := range tt.modules {
				pkgs = append(pkgs, "github.com/heraldpay/herald/"+m)
			}
			goCmd(t, dir, append([]string{"vet"}, pkgs...)...)

			gomod := readFile(t, filepath.Join(dir, "go.mod"))
			require.Regexp(t, regexp.MustCompile(`(?m)^go `+regexp.QuoteMeta(tt.goLine)+`$`), gomod, "go mod tidy kept the consumer's go line:\n%s", gomod)
			require.NotContains(t, gomod, "toolchain", "no newer toolchain asked for")
			gosum := readFile(t, filepath.Join(dir, "go.sum"))
			// The whole module graph, not only what tidy wrote down: a
			// requirement in an SDK module's go.mod shows here even when
			// no package of it is built.
			graph := goCmd(t, dir, "list", "-m", "all")
			for _, dep := range append(serverDeps, tt.wantNot...) {
				require.NotContains(t, gomod, dep, "go.mod")
				require.NotContains(t, gosum, dep, "go.sum")
				for _, line := range strings.Split(strings.TrimSpace(graph), "\n") {
					require.False(t, strings.HasPrefix(line+" ", dep), "the module graph has %s", line)
				}
			}
			for _, dep := range tt.want {
				require.Contains(t, gomod, dep)
			}
		})
	}
}

// goCmd runs the go command in dir as a merchant would: outside this
// repository's workspace, with the local toolchain only, and with the
// module proxy the machine has. It returns the standard output.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "go %s:\n%s%s", strings.Join(args, " "), out, stderr.String())
	return string(out)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
