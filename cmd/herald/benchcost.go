package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldpay/herald/bench"
)

// Postgres's cost of a scenario, per delivered event (or per job for
// River's own rows): WAL bytes, rows written and statement time, read from
// Postgres's own counters before and after. Unlike rates and latencies,
// these hold across noisy machines.
//
// The bench's own watching queries carry benchTag and are left out of the
// statement time; everything else Postgres did meanwhile (the payment
// side's inserts, River's fetches and completions, autovacuum) counts.

// benchTag marks the bench's own queries in pg_stat_statements.
const benchTag = "/* herald bench */ "

// costSnapshot is Postgres's counters at one moment.
type costSnapshot struct {
	lsn                         string
	inserts, updates, hot, dels int64
	// statementMS is read when b.statements: pg_stat_statements is there.
	statementMS float64
	// cpu is this machine's CPU counters (Linux), for the host's steal.
	cpu bench.CPUTimes
}

// enableStatements makes pg_stat_statements available in the bench's
// database, and reports whether it is (the server must preload it, which
// `make bench` does).
func (b *benchRun) enableStatements(ctx context.Context) bool {
	_, err := b.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
	if err != nil {
		return false
	}
	_, err = b.pool.Exec(ctx, benchTag+`SELECT count(*) FROM pg_stat_statements`)
	return err == nil
}

// snapshot reads the counters once every backend has reported its table
// statistics: the bench's own connections are closed first (a backend
// reports at exit), then the counters are read until they stop moving.
func (b *benchRun) snapshot(ctx context.Context) (costSnapshot, error) {
	b.pool.Reset()
	var prev costSnapshot
	for i := 0; ; i++ {
		s, err := b.readCounters(ctx)
		if err != nil {
			return s, err
		}
		if i > 0 && s.inserts == prev.inserts && s.updates == prev.updates && s.dels == prev.dels {
			// The bench and `make bench`'s Postgres share this machine; a
			// DATABASE_URL elsewhere makes the steal this machine's only.
			if stat, err := os.ReadFile("/proc/stat"); err == nil {
				s.cpu, _ = bench.ParseCPUTimes(stat)
			}
			return s, nil
		}
		if i == 40 {
			return s, errors.New("table statistics still moving after 20 s")
		}
		prev = s
		time.Sleep(500 * time.Millisecond)
	}
}

func (b *benchRun) readCounters(ctx context.Context) (costSnapshot, error) {
	var s costSnapshot
	err := b.pool.QueryRow(ctx, benchTag+`SELECT pg_current_wal_lsn()::text,
		COALESCE(sum(n_tup_ins), 0), COALESCE(sum(n_tup_upd), 0), COALESCE(sum(n_tup_hot_upd), 0), COALESCE(sum(n_tup_del), 0)
		FROM pg_stat_user_tables`).Scan(&s.lsn, &s.inserts, &s.updates, &s.hot, &s.dels)
	if err != nil {
		return s, fmt.Errorf("read table statistics: %w", err)
	}
	if b.statements {
		err := b.pool.QueryRow(ctx, benchTag+`SELECT COALESCE(sum(total_exec_time + total_plan_time), 0) FROM pg_stat_statements
			WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND query NOT LIKE '%`+benchTag+`%'`).Scan(&s.statementMS)
		if err != nil {
			return s, fmt.Errorf("read statement times: %w", err)
		}
	}
	return s, nil
}

// cost is what Postgres spent since from, per unit.
func (b *benchRun) cost(ctx context.Context, from costSnapshot, units int) (*bench.Cost, error) {
	to, err := b.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var wal int64
	if err := b.pool.QueryRow(ctx, benchTag+`SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint`, to.lsn, from.lsn).Scan(&wal); err != nil {
		return nil, fmt.Errorf("WAL written: %w", err)
	}
	n := float64(units)
	updates := to.updates - from.updates
	c := &bench.Cost{
		WALBytes:    float64(wal) / n,
		RowsWritten: float64(to.inserts-from.inserts+updates+to.dels-from.dels) / n,
		StatementMS: -1,
	}
	if updates > 0 {
		c.HOTShare = float64(to.hot-from.hot) / float64(updates)
	}
	c.HostSteal = to.cpu.StealShare(from.cpu)
	if b.statements {
		c.StatementMS = (to.statementMS - from.statementMS) / n
	}
	if b.walInspect {
		if c.WALByTable, err = b.walByTable(ctx, from.lsn, to.lsn, n); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// enableWALInspect makes pg_walinspect available in the bench's database
// (PostgreSQL 15 and later, a superuser: `make bench`), and reports
// whether it is.
func (b *benchRun) enableWALInspect(ctx context.Context) bool {
	_, err := b.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_walinspect`)
	return err == nil
}

// walByTable splits the WAL written between two positions by the table
// whose rows or indexes each record changed (its first block's), per
// unit. Records of other databases are left out; records of no relation
// (commits) go by their resource manager.
func (b *benchRun) walByTable(ctx context.Context, from, to string, units float64) ([]bench.WALShare, error) {
	rows, err := b.pool.Query(ctx, benchTag+`WITH r AS (
			SELECT resource_manager, record_length + fpi_length AS bytes,
				substring(block_ref FROM 'rel \d+/(\d+)/\d+')::oid AS db,
				substring(block_ref FROM 'rel \d+/\d+/(\d+)')::oid AS node
			FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn))
		SELECT CASE WHEN r.node IS NULL THEN r.resource_manager ELSE COALESCE(t.relname, 'other') END,
			CASE WHEN r.node IS NULL OR t.relname IS NULL THEN '' WHEN c.relkind = 'i' THEN 'indexes' ELSE 'rows' END,
			sum(r.bytes)::float8 / $3
		FROM r
		LEFT JOIN pg_class c ON c.relfilenode = r.node AND r.node <> 0
		LEFT JOIN pg_index i ON i.indexrelid = c.oid
		LEFT JOIN pg_class t ON t.oid = COALESCE(i.indrelid, c.oid)
		WHERE r.db IS NULL OR r.db = (SELECT oid FROM pg_database WHERE datname = current_database())
		GROUP BY 1, 2 ORDER BY 3 DESC`, from, to, units)
	if err != nil {
		return nil, fmt.Errorf("read WAL records: %w", err)
	}
	shares, err := pgx.CollectRows(rows, pgx.RowToStructByPos[bench.WALShare])
	if err != nil {
		return nil, fmt.Errorf("read WAL records: %w", err)
	}
	return shares, nil
}

// riverCost is the cost of River's own no-op job measured in this run, the
// yardstick of the bulk scenarios' cost ratios; nil when that scenario did
// not run.
func (b *benchRun) riverCost() *bench.Cost {
	if r := b.find("river no-op"); r != nil {
		return r.Cost
	}
	return nil
}
