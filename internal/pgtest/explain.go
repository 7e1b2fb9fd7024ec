package pgtest

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Statement is one SQL statement as a store sent it, with its arguments.
type Statement struct {
	SQL  string
	Args []any
}

// Recorder keeps every statement run on a pool from NewRecordingPool, so
// that a test can EXPLAIN exactly what a store issues, whatever the
// filters it was given, without the store knowing. It implements
// pgx.QueryTracer.
type Recorder struct {
	mu         sync.Mutex
	statements []Statement
}

// NewRecordingPool is NewPool with every statement recorded by rec.
func NewRecordingPool(t testing.TB, rec *Recorder) *pgxpool.Pool {
	t.Helper()
	return newPool(t, rec)
}

// TraceQueryStart implements pgx.QueryTracer.
func (r *Recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statements = append(r.statements, Statement{SQL: data.SQL, Args: data.Args})
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (r *Recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Take returns the statements recorded since the last Take, leaving out
// transaction control and session settings (begin, commit, set_config),
// which have no plan, and the EXPLAINs of this package.
func (r *Recorder) Take() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Statement
	for _, st := range r.statements {
		word, _, _ := strings.Cut(strings.TrimSpace(st.SQL), " ")
		switch strings.ToLower(word) {
		case "begin", "commit", "rollback", "savepoint", "release", "set", "reset", "explain", "deallocate":
			continue
		}
		if strings.Contains(st.SQL, "set_config(") {
			continue
		}
		out = append(out, st)
	}
	r.statements = nil
	return out
}

// Explain returns the plan Postgres makes for st with its arguments, as
// EXPLAIN prints it, one line per node.
func Explain(t testing.TB, pool *pgxpool.Pool, st Statement) string {
	t.Helper()
	return explainRows(t, pool, "EXPLAIN "+st.SQL, st.Args...)
}

// ExplainGeneric returns the generic plan of st: the plan Postgres may
// settle on for a statement pgx has prepared and run a few times, made
// without looking at the arguments. A query that relies on a partial
// index must use it here too, which only a predicate written out as the
// index's literal achieves. Sequential scans are discouraged while it
// plans, so that the plan shows whether an index can serve the query at
// all, however few rows the test database holds.
func ExplainGeneric(t testing.TB, pool *pgxpool.Pool, st Statement) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatalf("pgtest: acquire: %v", err)
	}
	defer conn.Release()
	// The protocol-level statement shares its name space with SQL's
	// PREPARE, so EXPLAIN EXECUTE can plan it.
	const name = "pgtest_explain_generic"
	sd, err := conn.Conn().Prepare(ctx, name, st.SQL)
	if err != nil {
		t.Fatalf("pgtest: prepare %s: %v", st.SQL, err)
	}
	defer func() { _ = conn.Conn().Deallocate(ctx, name) }()
	for _, set := range []string{"SET plan_cache_mode = force_generic_plan", "SET enable_seqscan = off"} {
		if _, err := conn.Exec(ctx, set); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	defer func() { _, _ = conn.Exec(ctx, "RESET ALL") }()
	if len(st.Args) != len(sd.ParamOIDs) {
		t.Fatalf("pgtest: %d arguments for %d parameters: %s", len(st.Args), len(sd.ParamOIDs), st.SQL)
	}
	// EXECUTE takes its arguments as expressions, not as parameters of
	// its own: each goes in as a quoted literal of its text form.
	params := make([]string, len(sd.ParamOIDs))
	for i, oid := range sd.ParamOIDs {
		text, err := conn.Conn().TypeMap().Encode(oid, pgtype.TextFormatCode, st.Args[i], nil)
		if err != nil {
			t.Fatalf("pgtest: encode argument %d: %v", i+1, err)
		}
		params[i] = "NULL"
		if text != nil {
			params[i] = "'" + strings.ReplaceAll(string(text), "'", "''") + "'"
		}
	}
	sql := "EXPLAIN EXECUTE " + name
	if len(params) > 0 {
		sql += "(" + strings.Join(params, ", ") + ")"
	}
	return explainRows(t, conn, sql)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func explainRows(t testing.TB, q querier, sql string, args ...any) string {
	t.Helper()
	rows, err := q.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
	return strings.Join(lines, "\n")
}

// RequireCheckValues fails t unless the values a CHECK constraint of the
// migrated schema allows in table.column (a constraint of the form
// CHECK (column IN ('a', 'b'))) are exactly want, in any order: it holds
// the Go constants and the schema to the same list.
func RequireCheckValues[S ~string](t testing.TB, pool *pgxpool.Pool, table, column string, want ...S) {
	t.Helper()
	got := checkValues(t, pool, table, column)
	wanted := make([]string, len(want))
	for i, v := range want {
		wanted[i] = string(v)
	}
	slices.Sort(got)
	slices.Sort(wanted)
	if !slices.Equal(got, wanted) {
		t.Errorf("pgtest: %s.%s allows %q; the constants are %q", table, column, got, wanted)
	}
}

func checkValues(t testing.TB, pool *pgxpool.Pool, table, column string) []string {
	t.Helper()
	var defs []string
	rows, err := pool.Query(context.Background(), `SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
		JOIN pg_class r ON r.oid = c.conrelid WHERE r.relname = $1 AND c.contype = 'c'`, table)
	if err == nil {
		defs, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		t.Fatalf("pgtest: read constraints of %s: %v", table, err)
	}
	var values []string
	for _, def := range defs {
		if !strings.HasPrefix(def, "CHECK (("+column+" = ANY (ARRAY[") {
			continue
		}
		for _, m := range checkValueRE.FindAllStringSubmatch(def, -1) {
			values = append(values, m[1])
		}
	}
	if values == nil {
		t.Fatalf("pgtest: no CHECK (%s IN (…)) on %s among %q", column, table, defs)
	}
	return values
}

var checkValueRE = regexp.MustCompile(`'([^']*)'::text`)
