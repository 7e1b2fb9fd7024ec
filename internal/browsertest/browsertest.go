// Package browsertest drives a real headless Chromium (Debian's chromium
// package) with chromedp for end-to-end tests of Herald's pages.
//
// One browser process serves the whole test binary; every test gets its own
// incognito browser context (separate cookies) and tab. Use Main in
// TestMain so the browser is stopped when the tests end.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvChromium overrides the browser executable.
const EnvChromium = "HERALD_CHROMIUM"

// EnvArtifacts names a directory where Screenshot saves PNGs.
const EnvArtifacts = "HERALD_ARTIFACTS_DIR"

var (
	once       sync.Once
	browserCtx context.Context
	stop       context.CancelFunc = func() {}
	startErr   error
)

// Main runs the tests and then stops the shared browser.
func Main(m *testing.M) {
	code := m.Run()
	stop()
	os.Exit(code)
}

func findChromium() (string, error) {
	if p := os.Getenv(EnvChromium); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no Chromium found: install it with `apt-get install -y chromium` (make test does) or set %s", EnvChromium)
}

func start() {
	path, err := findChromium()
	if err != nil {
		startErr = err
		return
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 900),
		// The sandbox has no route to Google: stop Chromium trying.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	// Start the browser now so a broken install fails here, clearly.
	if err := chromedp.Do(ctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		startErr = fmt.Errorf("start %s: %w", path, err)
		return
	}
	browserCtx = ctx
	stop = func() {
		cancelBrowser()
		cancelAlloc()
	}
}

// NewTab returns a context for a new tab in a fresh incognito context,
// closed when t ends. Actions on it time out after a minute.
func NewTab(t testing.TB) context.Context {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatalf("browsertest: %v", startErr)
	}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// Open the tab before deriving the timeout: the tab lives as long as the
	// context of its first action.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browsertest: open tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

// Screenshot saves a full-page PNG (quality 100 makes Chromium send PNG) named after the test and label in the
// EnvArtifacts directory, when set, so people can look at the pages.
func Screenshot(t testing.TB, ctx context.Context, label string) {
	t.Helper()
	dir := os.Getenv(EnvArtifacts)
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("browsertest: screenshot: %v", err)
		return
	}
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name() + "-" + label + ".png")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Errorf("browsertest: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Errorf("browsertest: %v", err)
	}
}
