package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/migrations"
)

// clientCheckInterval is how often Postgres checks, while a statement of
// Herald's runs, that Herald is still connected.
const clientCheckInterval = "1s"

// abortStatementsOfLostClients makes Postgres abort a statement whose
// client is gone. Without it, a statement that waits (on a lock, say) after
// its Herald process was killed, or after its context was cancelled (pgx
// then closes the connection), still runs and commits once it can: a
// request whose idempotency lease was lost would act after its key was
// taken over, and act twice. With it, the statement is aborted within
// clientCheckInterval, well inside the time a lost lease leaves before a
// takeover. client_connection_check_interval exists from PostgreSQL 14 on;
// older servers go without, and a value set in DATABASE_URL wins.
func abortStatementsOfLostClients(cfg *pgxpool.Config) {
	if _, set := cfg.ConnConfig.RuntimeParams["client_connection_check_interval"]; set {
		return
	}
	prev := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if prev != nil {
			if err := prev(ctx, conn); err != nil {
				return err
			}
		}
		if migrations.ServerMajor(conn.PgConn().ParameterStatus("server_version")) < 14 {
			return nil
		}
		if _, err := conn.Exec(ctx, "SET client_connection_check_interval = '"+clientCheckInterval+"'"); err != nil {
			return fmt.Errorf("set client_connection_check_interval: %w", err)
		}
		return nil
	}
}
