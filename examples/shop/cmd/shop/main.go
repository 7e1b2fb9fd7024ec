// Command shop runs Bellwether Goods, Herald's demo merchant.
//
//	DATABASE_URL          Postgres (the shop keeps its tables in schema "shop")
//	HERALD_URL            Herald's base URL, e.g. http://127.0.0.1:8080
//	HERALD_API_KEY        the shop's secret key, sk_test_…
//	HERALD_WEBHOOK_SECRET the webhook endpoint's signing secret, whsec_…
//	SHOP_ADDR             listen address, default 127.0.0.1:8081
//	SHOP_PUBLIC_URL       where customers reach the shop, default http://SHOP_ADDR
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/client"
	"github.com/heraldpay/herald/examples/shop"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "shop:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	addr := envOr("SHOP_ADDR", "127.0.0.1:8081")
	publicURL := envOr("SHOP_PUBLIC_URL", "http://"+addr)
	for _, name := range []string{"DATABASE_URL", "HERALD_URL", "HERALD_API_KEY", "HERALD_WEBHOOK_SECRET"} {
		if os.Getenv(name) == "" {
			return fmt.Errorf("%s is required", name)
		}
	}
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer pool.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	s, err := shop.New(ctx, shop.Config{
		DB:             pool,
		Herald:         client.New(os.Getenv("HERALD_URL"), os.Getenv("HERALD_API_KEY")),
		WebhookSecrets: []string{os.Getenv("HERALD_WEBHOOK_SECRET")},
		PublicURL:      publicURL,
		Logger:         logger,
	})
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: addr, Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("shop started", "url", publicURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
