package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldpay/herald/delivery/deliverypg"
	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/migrations"
)

// The operations endpoints: /healthz (live: the process answers), /readyz
// (ready: the database answers, its migrations are current and, for the
// worker role, River has started), /metrics, and Go's profiler. They are
// served on the admin listener (HERALD_ADMIN_ADDR) when it is set, and then
// on no other; otherwise on the public listener, without the profiler.

// mountOps serves the operations endpoints on r, the profiler with pprof.
func (s *Server) mountOps(r chi.Router, pprof bool) {
	r.Get("/healthz", handleLive)
	r.Get("/readyz", s.handleReady)
	r.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	if pprof {
		r.Mount("/debug", middleware.Profiler())
	}
}

// listenAdmin binds the admin listener, when configured.
func (s *Server) listenAdmin() error {
	if s.cfg.AdminAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen on %s (HERALD_ADMIN_ADDR): %w", s.cfg.AdminAddr, err)
	}
	s.adminLn = ln
	r := chi.NewRouter()
	r.Use(httpapi.Recover(s.logger), middleware.GetHead)
	s.mountOps(r, s.cfg.Pprof)
	s.adminHTTP = &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 10 * time.Second,
		// A CPU profile or an execution trace streams for as long as asked.
		WriteTimeout: 5 * time.Minute,
		IdleTimeout:  2 * time.Minute,
		ErrorLog:     slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	return nil
}

// serveAdmin serves the admin listener until shutdownAdmin.
func (s *Server) serveAdmin() {
	if s.adminHTTP == nil {
		return
	}
	go func() {
		if err := s.adminHTTP.Serve(s.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			select { // stops the process, unless the public listener already has
			case s.serveErr <- fmt.Errorf("admin listener: %w", err):
			default:
			}
		}
	}()
}

// shutdownAdmin stops the admin listener; it stays up through the drain so
// that metrics and readiness can be watched until the end.
func (s *Server) shutdownAdmin(ctx context.Context) error {
	if s.adminHTTP == nil {
		return nil
	}
	if err := s.adminHTTP.Shutdown(ctx); err != nil {
		return fmt.Errorf("admin listener shutdown: %w", err)
	}
	return nil
}

// AdminURL is the admin listener's base URL, or "" without one.
func (s *Server) AdminURL() string {
	if s.adminLn == nil {
		return ""
	}
	return "http://" + s.adminLn.Addr().String()
}

// leadership says whether this process exports the cluster's gauges:
// River's elected leader, which only a process working jobs can be.
func (s *Server) leadership() deliverypg.Leadership {
	if !s.cfg.hasRole(roleWorker) {
		return deliverypg.NotLeader
	}
	return deliverypg.RiverLeadership(s.pool, s.river.ID())
}

// handleLive answers as long as the process does: a liveness probe must
// not restart Herald because its database is away.
func handleLive(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is /readyz's answer.
type readiness struct {
	// Status is "ready" or "unavailable".
	Status string `json:"status"`
	// Reason says what is wrong, when unavailable.
	Reason string `json:"reason,omitempty"`
	// Checks has one word per check: database, migrations and, for the
	// worker role, river.
	Checks map[string]string `json:"checks"`
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	res := s.readiness(ctx)
	status := http.StatusOK
	if res.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	httpapi.WriteJSON(w, status, res)
}

// readiness checks what this process needs to do its work.
func (s *Server) readiness(ctx context.Context) readiness {
	res := readiness{Status: "ready", Checks: map[string]string{}}
	var problems []string
	if s.draining.Load() {
		problems = append(problems, "shutting down")
	}
	if err := s.pool.Ping(ctx); err != nil {
		res.Checks["database"], res.Checks["migrations"] = "unreachable", "unknown"
		problems = append(problems, "database unreachable")
	} else {
		res.Checks["database"] = "ok"
		pending, err := migrations.CheckPending(ctx, s.pool)
		switch {
		case err != nil:
			s.logger.Warn("readiness: check migrations", "err", err)
			res.Checks["migrations"] = "unknown"
			problems = append(problems, "migrations could not be checked")
		case !pending.None():
			res.Checks["migrations"] = "pending"
			problems = append(problems, pending.String()+" (run herald migrate)")
		default:
			res.Checks["migrations"] = "ok"
		}
	}
	if s.cfg.hasRole(roleWorker) {
		res.Checks["river"] = s.riverState()
		if res.Checks["river"] != "ok" {
			problems = append(problems, "river "+res.Checks["river"])
		}
	}
	if len(problems) > 0 {
		res.Status, res.Reason = "unavailable", strings.Join(problems, "; ")
	}
	return res
}

// riverState says whether River's client works jobs: "ok", "not started"
// or "stopped".
func (s *Server) riverState() string {
	if !s.riverStarted.Load() {
		return "not started"
	}
	select {
	case <-s.river.Stopped():
		return "stopped"
	default:
		return "ok"
	}
}

// runHealthcheck asks a running Herald's /readyz and exits 0 only when it
// is ready: the container image has no curl, so its healthcheck is the
// binary itself. The address comes from the same environment as serve's.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("herald healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	target := fs.String("url", "", "URL to ask (default: /readyz on HERALD_ADMIN_ADDR, else on HERALD_ADDR)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if *target == "" {
		addr := getenv("HERALD_ADMIN_ADDR")
		if addr == "" {
			addr = getenv("HERALD_ADDR")
		}
		if addr == "" {
			addr = "127.0.0.1:8080"
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return usageError{fmt.Errorf("invalid address %q: want host:port", addr)}
		}
		// A wildcard host (0.0.0.0, ::, or none) is dialled as the local
		// system, which the listener also answers on.
		*target = "http://" + net.JoinHostPort(host, port) + "/readyz"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return usageError{fmt.Errorf("invalid --url: %w", err)}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	defer resp.Body.Close()
	var res readiness
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&res)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s %s", resp.Status, res.Reason)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}
