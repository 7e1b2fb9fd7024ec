package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/client"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/webhook"
)

// haystack is named data searched for secrets: one value of a database
// column, or a log.
type haystack struct {
	name string
	data []byte
}

// dbDump is every value of every column of every table of a database, as
// stored: bytea as its raw bytes (not the hex a ::text cast shows, which
// would hide a secret stored there), json and jsonb as their text, any
// other type as its text form.
type dbDump []haystack

// dumpDatabase reads every table of every schema but Postgres's own,
// River's included, finding the columns in pg_catalog so that no table or
// column added later is missed.
func dumpDatabase(t *testing.T, pool *pgxpool.Pool) dbDump {
	t.Helper()
	ctx := context.Background()
	rows, err := pool.Query(ctx, `
		SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(a.attname), ty.typname
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		JOIN pg_type ty ON ty.oid = a.atttypid
		WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, a.attnum`)
	require.NoError(t, err)
	type column struct{ name, expr string }
	tables := map[string][]column{}
	var order []string
	for rows.Next() {
		var table, col, typ string
		require.NoError(t, rows.Scan(&table, &col, &typ))
		// Every value is read as bytea: raw for bytea, each element raw for
		// bytea[], the text form's UTF-8 for anything else.
		expr := "convert_to(" + col + "::text, 'UTF8')"
		switch typ {
		case "bytea":
			expr = col
		case "_bytea":
			expr = "(SELECT string_agg(e, '\\x0a'::bytea) FROM unnest(" + col + ") e)"
		}
		if _, seen := tables[table]; !seen {
			order = append(order, table)
		}
		tables[table] = append(tables[table], column{col, expr})
	}
	require.NoError(t, rows.Err())
	require.Contains(t, order, "public.idempotency_keys", "the dump reads Herald's tables")

	var dump dbDump
	for _, table := range order {
		cols := tables[table]
		exprs := make([]string, len(cols))
		for i, c := range cols {
			exprs[i] = c.expr
		}
		rows, err := pool.Query(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+table)
		require.NoError(t, err)
		n := 0
		for rows.Next() {
			n++
			values := make([][]byte, len(cols))
			dest := make([]any, len(cols))
			for i := range values {
				dest[i] = &values[i]
			}
			require.NoError(t, rows.Scan(dest...))
			for i, v := range values {
				if v != nil {
					dump = append(dump, haystack{fmt.Sprintf("%s.%s (row %d)", table, cols[i].name, n), v})
				}
			}
		}
		require.NoError(t, rows.Err())
	}
	return dump
}

// contains reports whether any value contains s as is.
func (d dbDump) contains(s string) bool {
	for _, h := range d {
		if bytes.Contains(h.data, []byte(s)) {
			return true
		}
	}
	return false
}

// text is the whole dump as one string, one value a line, for patterns.
func (d dbDump) text() string {
	var b strings.Builder
	for _, h := range d {
		b.WriteString(h.name + "\t")
		b.Write(h.data)
		b.WriteByte('\n')
	}
	return b.String()
}

// secretForms returns the byte strings that would betray secret if found:
// the secret, and for a webhook secret its base64 part and its key bytes;
// each raw, in hex (either case) and in base64 (standard and URL alphabet).
// Base64 is matched at each of the three alignments the value could have
// inside a longer encoded text, on whole groups only, so padded and
// unpadded encodings are caught alike.
func secretForms(secret string) map[string][]byte {
	forms := map[string][]byte{}
	add := func(name string, raw []byte) {
		forms[name] = raw
		forms["hex of "+name] = []byte(hex.EncodeToString(raw))
		forms["HEX of "+name] = []byte(strings.ToUpper(hex.EncodeToString(raw)))
		for offset := range 3 {
			part := raw[offset:]
			part = part[:len(part)/3*3]
			if len(part) < 12 {
				continue // too short to tell a secret from chance
			}
			forms[fmt.Sprintf("base64 of %s (from byte %d)", name, offset)] = []byte(base64.StdEncoding.EncodeToString(part))
			forms[fmt.Sprintf("base64url of %s (from byte %d)", name, offset)] = []byte(base64.URLEncoding.EncodeToString(part))
		}
	}
	add("the secret", []byte(secret))
	if rest, ok := strings.CutPrefix(secret, webhook.SecretPrefix); ok {
		add("its base64 part", []byte(rest))
		if key, err := webhook.ParseSecret(secret); err == nil {
			add("its key bytes", key)
		}
	}
	return forms
}

// findSecret returns where a form of secret is found in places.
func findSecret(secret string, places []haystack) (string, bool) {
	forms := secretForms(secret)
	for _, h := range places {
		for form, b := range forms {
			if bytes.Contains(h.data, b) {
				return form + " in " + h.name, true
			}
		}
	}
	return "", false
}

// requireAbsent fails the test if any form of secret is in places.
func requireAbsent(t *testing.T, what, secret string, places []haystack) {
	t.Helper()
	if where, found := findSecret(secret, places); found {
		t.Fatalf("%s is stored or logged: %s", what, where)
	}
}

// The dump and the search see a secret however it is stored: raw in a
// bytea (which a ::text dump shows as hex), inside an array, encoded in
// hex or base64 at any offset, in JSON; and they find nothing that is not
// there.
func TestDumpSeesThroughEncodings(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	pool := pgtest.NewPool(t)
	_, err := pool.Exec(ctx, `CREATE TABLE probe (name text PRIMARY KEY, b bytea, bs bytea[], j jsonb, t text)`)
	require.NoError(t, err)
	b64 := base64.StdEncoding.EncodeToString
	cases := []struct {
		name  string
		store func(secret string, key []byte) (sql string, arg any)
	}{
		{"RawInBytea", func(s string, _ []byte) (string, any) { return `b`, []byte("x" + s + "y") }},
		{"KeyBytesInBytea", func(_ string, key []byte) (string, any) { return `b`, append([]byte{0, 1}, key...) }},
		{"InByteaArray", func(s string, _ []byte) (string, any) { return `bs`, [][]byte{[]byte("a"), []byte(s)} }},
		{"HexInText", func(s string, _ []byte) (string, any) { return `t`, "0x" + hex.EncodeToString([]byte(s)) }},
		{"HexOfKeyInBytea", func(_ string, key []byte) (string, any) { return `b`, []byte(hex.EncodeToString(key)) }},
		{"Base64Offset1InJSON", func(s string, _ []byte) (string, any) {
			return `j`, map[string]any{"blob": b64([]byte("1" + s + "tail"))}
		}},
		{"Base64Offset2PaddedInText", func(s string, _ []byte) (string, any) { return `t`, b64([]byte("12" + s)) }},
		{"RawBase64URLOfKeyInText", func(_ string, key []byte) (string, any) {
			return `t`, base64.RawURLEncoding.EncodeToString(append([]byte{9}, key...))
		}},
		{"Base64PartInJSON", func(s string, _ []byte) (string, any) {
			return `j`, map[string]any{"k": strings.TrimPrefix(s, webhook.SecretPrefix)}
		}},
		{"Base64OfABodyInBytea", func(s string, _ []byte) (string, any) {
			return `b`, []byte(b64([]byte(`{"id":"we_1","secret":"` + s + `"}`)))
		}},
	}
	secrets := map[string]string{}
	for _, tt := range cases {
		secret := webhook.NewSecret()
		key, err := webhook.ParseSecret(secret)
		require.NoError(t, err)
		col, arg := tt.store(secret, key)
		_, err = pool.Exec(ctx, `INSERT INTO probe (name, `+col+`) VALUES ($1, $2)`, tt.name, arg)
		require.NoError(t, err)
		secrets[tt.name] = secret
	}
	dump := dumpDatabase(t, pool)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			where, found := findSecret(secrets[tt.name], dump)
			require.True(t, found)
			require.Contains(t, where, "public.probe.")
		})
	}
	t.Run("Absent", func(t *testing.T) {
		_, found := findSecret(webhook.NewSecret(), dump)
		require.False(t, found)
		_, found = findSecret("sk_test_"+strings.Repeat("Z", 32), dump)
		require.False(t, found)
	})
	t.Run("CastToTextMisses", func(t *testing.T) {
		// What the old dump did: the raw secret in a bytea is invisible.
		var text string
		require.NoError(t, pool.QueryRow(ctx, `SELECT string_agg(x::text, E'\n') FROM probe x`).Scan(&text))
		require.NotContains(t, text, secrets["RawInBytea"])
	})
}

// Secret API keys and webhook signing secrets are never stored or logged
// in the clear, in any encoding: keys are hashed, signing secrets sealed,
// and so are the stored answers of idempotent requests that returned them
// (the Go client sends an Idempotency-Key with every POST); none shows in a
// log line, even after they were used.
func TestSecretsNeverStoredOrLogged(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	f := newDeliveryFixture(t, nil)
	first := f.endpoint["secret"].(string)
	r := f.ts.call(t, http.MethodPost, "/v1/webhook_endpoints/"+f.endpointID()+"/roll_secret", f.key, map[string]any{"expire_previous_in": 3600})
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	second := r.Body["secret"].(string)

	// Through the Go client, as a merchant does: create and roll send a
	// random Idempotency-Key each, and the answers, secrets included, are
	// kept 24 hours for replay.
	c := client.New(f.ts.URL(), f.key)
	params := client.EndpointParams{URL: client.String(f.sink.URL + "/other"),
		EnabledEvents: []string{webhook.TypeCheckoutSessionCompleted}}
	created, err := c.Endpoints.Create(ctx, params)
	require.NoError(t, err)
	rolled, err := c.Endpoints.RollSecret(ctx, created.ID, time.Hour)
	require.NoError(t, err)
	// A replay answers the secret again, from the sealed copy.
	keyed, err := c.Endpoints.Create(ctx, params, client.WithIdempotencyKey("endpoint-3"))
	require.NoError(t, err)
	replayed, err := c.Endpoints.Create(ctx, params, client.WithIdempotencyKey("endpoint-3"))
	require.NoError(t, err)
	require.Equal(t, keyed.ID, replayed.ID)
	require.Equal(t, keyed.Secret, replayed.Secret, "the replay carries the secret")
	var stored int
	require.NoError(t, f.ts.Pool().QueryRow(ctx, `SELECT count(*) FROM idempotency_keys WHERE response_body IS NOT NULL`).Scan(&stored))
	require.Equal(t, 3, stored, "the answers carrying secrets are stored")

	f.pay(t)
	f.sink.Wait(t, 1)
	// A wrong key is logged as little as a right one.
	require.Equal(t, http.StatusUnauthorized, f.ts.call(t, http.MethodGet, "/v1/events", f.key+"x", nil).Status)

	dump := dumpDatabase(t, f.ts.Pool())
	logs := f.ts.logs.String()
	require.True(t, dump.contains(f.endpointID()), "the dump covers the endpoints table")
	require.Contains(t, logs, "/v1/webhook_endpoints", "the logs cover the API requests")
	places := append(dump, haystack{"the logs", []byte(logs)})
	requireAbsent(t, "the API key", f.key, places)
	requireAbsent(t, "the wrong API key", f.key+"x", places)
	for name, secret := range map[string]string{"first": first, "rolled": second, "created by the client": created.Secret,
		"rolled by the client": rolled.Secret, "replayed": keyed.Secret} {
		requireAbsent(t, "the "+name+" signing secret", secret, places)
	}
}
