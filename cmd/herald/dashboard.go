package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-chi/chi/v5"
	"riverqueue.com/riverui"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/dashboard"
	"github.com/heraldpay/herald/dashboard/dashboardpg"
	"github.com/heraldpay/herald/internal/seal"
)

// operatorDashboard is the part of a Server that runs the operator
// dashboard: River UI has background services to start and stop.
type operatorDashboard struct {
	riverUI *riverui.Handler
	stop    context.CancelFunc
}

// mountDashboard mounts the operator dashboard with River UI on r (its keys
// page on accounts), or, when no operator password is set, the page saying
// how to turn it on.
func (s *Server) mountDashboard(r chi.Router, ring *seal.Keyring, accounts account.KeyService) error {
	if s.cfg.DashboardPassword == "" {
		dashboard.RegisterDisabled(r, s.logger)
		return nil
	}
	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(s.river, nil),
		Logger:    s.riverLogger(),
		Prefix:    dashboard.RiverUIPrefix,
	})
	if err != nil {
		return fmt.Errorf("river ui: %w", err)
	}
	s.dashboard.riverUI = ui
	store := dashboardpg.New(s.pool)
	key, previousKeys := ring.MACKeys(purposeDashboard)
	dashboard.New(dashboard.Config{
		Password: s.cfg.DashboardPassword, Key: key, PreviousKeys: previousKeys,
		Sessions: store, Audit: store, Reads: store,
		Deliveries: s.Delivery, Endpoints: s.Delivery, Payments: s.Checkout, Keys: accounts,
		RiverUI:       ui,
		SecureCookies: strings.HasPrefix(s.cfg.PublicURL, "https://"),
		Logger:        s.logger,
	}).Register(r)
	return nil
}

// startDashboard starts River UI's background counts, until stopDashboard.
func (s *Server) startDashboard(ctx context.Context) error {
	if s.dashboard.riverUI == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := s.dashboard.riverUI.Start(ctx); err != nil {
		cancel()
		return fmt.Errorf("start river ui: %w", err)
	}
	s.dashboard.stop = cancel
	return nil
}

// stopDashboard stops what startDashboard started.
func (s *Server) stopDashboard() {
	if s.dashboard.stop != nil {
		s.dashboard.stop()
	}
}
