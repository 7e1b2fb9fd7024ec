package main

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Log formats.
const (
	logJSON = "json"
	logText = "text"
)

// addObservabilitySettings registers the admin listener and log settings.
// It comes after HERALD_ENV, whose value the log format's default follows.
func addObservabilitySettings(s *settings, cfg *Config) {
	s.add("admin-addr", "HERALD_ADMIN_ADDR", "", "operations listener: /metrics, /healthz, /readyz (empty: served on HERALD_ADDR)", func(v string) error {
		if v == "" {
			return nil
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("want host:port, like 127.0.0.1:9090")
		}
		cfg.AdminAddr = v
		return nil
	})
	s.add("pprof", "HERALD_PPROF", "false", "serve Go's profiler at /debug/pprof/ on the admin listener", parseBool(&cfg.Pprof))
	s.add("log-level", "HERALD_LOG_LEVEL", "info", "lowest level logged: debug, info, warn or error", func(v string) error {
		switch strings.ToLower(v) {
		case "debug":
			cfg.LogLevel = slog.LevelDebug
		case "info":
			cfg.LogLevel = slog.LevelInfo
		case "warn":
			cfg.LogLevel = slog.LevelWarn
		case "error":
			cfg.LogLevel = slog.LevelError
		default:
			return errors.New("want debug, info, warn or error")
		}
		return nil
	})
	s.add("log-format", "HERALD_LOG_FORMAT", "", "json or text (default: json in production, text in dev)", func(v string) error {
		switch strings.ToLower(v) {
		case "":
			cfg.LogFormat = logText
			if cfg.Env == envProduction {
				cfg.LogFormat = logJSON
			}
		case logJSON, logText:
			cfg.LogFormat = strings.ToLower(v)
		default:
			return errors.New("want json or text")
		}
		return nil
	})
}

// validateObservability checks the settings above against the others.
func (c *Config) validateObservability() error {
	if c.Pprof && c.AdminAddr == "" {
		return errors.New("HERALD_PPROF needs HERALD_ADMIN_ADDR: profiles are never served on the public listener")
	}
	if c.AdminAddr != "" && c.AdminAddr == c.Addr && !strings.HasSuffix(c.Addr, ":0") {
		return errors.New("HERALD_ADMIN_ADDR must differ from HERALD_ADDR")
	}
	return nil
}

// newLogger writes cfg's format at cfg's level to w.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// version and revision name the build. make image sets them:
// -ldflags "-X main.version=v1.2.3 -X main.revision=<commit>".
var (
	version  string
	revision string
)

// build describes the running binary, for herald_build_info and the logs.
type build struct {
	Version, Revision, GoVersion string
}

// currentBuild describes this binary.
func currentBuild() build {
	info, _ := debug.ReadBuildInfo()
	return describeBuild(version, revision, info)
}

// describeBuild prefers what the linker was told, then what the Go
// toolchain recorded (a module version when installed with go install, the
// VCS revision when built in a checkout), then "dev" and "unknown".
func describeBuild(version, revision string, info *debug.BuildInfo) build {
	b := build{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if info != nil {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && b.Revision == "" {
				b.Revision = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	return b
}

// registerBuildInfo exports b as herald_build_info, always 1: a query
// joins on it to tell which versions run.
func registerBuildInfo(reg prometheus.Registerer, b build) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "herald_build_info",
		Help:        "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "go_version": b.GoVersion},
	})
	g.Set(1)
	reg.MustRegister(g)
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// instrumentTransport times outbound delivery requests until their response
// headers, by status class (2xx…5xx, or error when no answer came) and
// method, and gauges those in flight. A class, not the code: merchants'
// endpoints answer any code they like.
func instrumentTransport(reg prometheus.Registerer, rt http.RoundTripper) http.RoundTripper {
	inFlight := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "herald_delivery_http_in_flight_requests",
		Help: "Outbound webhook requests in flight in this process.",
	})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "herald_delivery_http_request_duration_seconds",
		Help:    "Outbound webhook requests until response headers, by status class (2xx…5xx, or error) and method.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
	}, []string{"status_class", "method"})
	reg.MustRegister(inFlight, duration)
	return promhttp.InstrumentRoundTripperInFlight(inFlight, roundTripFunc(func(req *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		class := "error"
		if err == nil {
			class = strconv.Itoa(resp.StatusCode/100) + "xx"
		}
		duration.WithLabelValues(class, strings.ToLower(req.Method)).Observe(time.Since(start).Seconds())
		return resp, err
	}))
}
