package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/internal/pgtest"
	"github.com/heraldpay/herald/migrations"
)

// flagLine finds a flag's line in a usage: the flag, then its variable (if
// any), then its meaning and default.
func flagLine(t *testing.T, usage, name, env, def string) {
	t.Helper()
	pattern := `(?m)^  --` + regexp.QuoteMeta(name) + `( \S+)?\s+`
	if env != "" {
		pattern += regexp.QuoteMeta(env) + `\s+`
	}
	pattern += `\S.*`
	if def != "" {
		pattern += regexp.QuoteMeta("(default "+def+")") + `$`
	}
	require.Regexp(t, pattern, usage, "--%s", name)
}

// Every herald serve flag is listed by -h with the variable it mirrors and
// its built-in default, never a value from the environment (which may be a
// secret).
func TestServeHelpListsEverySetting(t *testing.T) {
	t.Parallel()

	env := map[string]string{"DATABASE_URL": "postgres://herald:hunter2hunter2@db/herald", "HERALD_SECRET": strings.Repeat("s3cret", 8),
		"HERALD_ADDR": "10.9.8.7:1234"}
	res := runHerald(t, env, "serve", "-h")
	require.Equal(t, 0, res.code, res.stderr)
	require.Empty(t, res.stderr)
	require.True(t, strings.HasPrefix(res.stdout, "Usage: herald serve [flags]\n"), res.stdout)
	for _, v := range env {
		require.NotContains(t, res.stdout, v, "-h never shows what the environment holds")
	}

	s := serveSettings(&Config{}, func(string) string { return "" })
	n := 0
	s.fs.VisitAll(func(f *flag.Flag) {
		n++
		require.NotEmpty(t, s.env[f.Name], "--%s mirrors a variable", f.Name)
		def := f.DefValue
		if def == "false" || def == "0s" || def == "0" {
			def = ""
		}
		flagLine(t, res.stdout, f.Name, s.env[f.Name], def)
	})
	require.Equal(t, n, strings.Count(res.stdout, "\n  --"), "one line per flag")
	flagLine(t, res.stdout, "env", "HERALD_ENV", "production")
	flagLine(t, res.stdout, "addr", "HERALD_ADDR", "127.0.0.1:8080")
	flagLine(t, res.stdout, "secrets", "HERALD_SECRETS", "")
	flagLine(t, res.stdout, "delivery-timeout", "HERALD_DELIVERY_TIMEOUT", "15s")

	require.Equal(t, res.stdout, runHerald(t, nil, "help", "serve").stdout, "herald help serve is herald serve -h")
	require.Equal(t, res.stdout, runHerald(t, nil, "serve", "--help").stdout)
}

// Every other command answers -h (or --help) on stdout with exit 0: its
// usage and each of its flags, with DATABASE_URL named where it is read.
func TestCommandHelp(t *testing.T) {
	t.Parallel()

	type flagWant struct{ name, env, def string }
	dbFlag := flagWant{"database-url", "DATABASE_URL", ""}
	for _, tt := range []struct {
		args  []string
		usage string
		flags []flagWant
	}{
		{[]string{"bench", "--help"}, "Usage: herald bench [flags]",
			[]flagWant{dbFlag, {"events", "", "20000"}, {"rates", "", "500,1000"}, {"only", "", ""}, {"max-workers", "", "1000"}}},
		{[]string{"migrate", "-h"}, "Usage: herald migrate [up|status] [flags]", []flagWant{dbFlag}},
		{[]string{"migrate", "status", "-h"}, "Usage: herald migrate [up|status] [flags]", []flagWant{dbFlag}},
		{[]string{"merchant", "-h"}, "Usage:\n  herald merchant create", nil},
		{[]string{"merchant", "create", "-h"}, "Usage: herald merchant create --name NAME [flags]",
			[]flagWant{dbFlag, {"name", "", ""}, {"logo-url", "", ""}, {"accent-color", "", ""}, {"json", "", ""}}},
		{[]string{"merchant", "keys", "-h"}, "Usage:\n  herald merchant keys list",
			[]flagWant{dbFlag, {"merchant", "", ""}, {"key", "", ""}, {"overlap", "", "24h0m0s"}, {"json", "", ""}}},
		{[]string{"merchant", "keys", "roll", "--help"}, "Usage:\n  herald merchant keys list", []flagWant{{"overlap", "", "24h0m0s"}}},
		{[]string{"secrets", "-h"}, "Usage:\n  herald secrets generate", nil},
		{[]string{"secrets", "generate", "-h"}, "Usage:\n  herald secrets generate", []flagWant{{"id", "", ""}}},
		{[]string{"secrets", "rotate", "-h"}, "Usage:\n  herald secrets generate",
			[]flagWant{dbFlag, {"secrets", "HERALD_SECRETS", ""}, {"secret", "HERALD_SECRET", ""}, {"env", "HERALD_ENV", "production"}, {"batch", "", "500"}}},
		{[]string{"healthcheck", "-h"}, "Usage: herald healthcheck [--url URL]", []flagWant{{"url", "", ""}}},
		{[]string{"listen", "-h"}, "Usage: herald listen --api-key",
			[]flagWant{{"api-key", "HERALD_API_KEY", ""}, {"api-url", "HERALD_API_URL", "http://127.0.0.1:8080"}, {"forward-to", "", ""}}},
		{[]string{"trigger", "--help"}, "Usage: herald trigger EVENT",
			[]flagWant{{"api-key", "HERALD_API_KEY", ""}, {"api-url", "HERALD_API_URL", "http://127.0.0.1:8080"}}},
		{[]string{"version", "-h"}, "Usage: herald version", nil},
		{[]string{"help"}, "Herald: hosted checkout", nil},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()

			res := runHerald(t, map[string]string{"DATABASE_URL": "postgres://herald:hunter2hunter2@db/herald",
				"HERALD_API_KEY": "sk_test_hunter2hunter2", "HERALD_API_URL": "http://hunter2.test"}, tt.args...)
			require.Equal(t, 0, res.code, res.stderr)
			require.Empty(t, res.stderr)
			require.True(t, strings.HasPrefix(res.stdout, tt.usage), res.stdout)
			require.NotContains(t, res.stdout, "hunter2")
			for _, f := range tt.flags {
				flagLine(t, res.stdout, f.name, f.env, f.def)
			}
		})
	}
}

// herald version prints what herald_build_info reports: the version, the
// revision and the Go version of the binary.
func TestVersionCommand(t *testing.T) {
	t.Parallel()

	res := runHerald(t, nil, "version")
	require.Equal(t, 0, res.code, res.stderr)
	b := currentBuild()
	require.Equal(t, fmt.Sprintf("herald %s\nrevision %s\n%s\n", b.Version, b.Revision, b.GoVersion), res.stdout)
	require.Regexp(t, `\ngo1\.\d+`, res.stdout)
}

// herald migrate status lists Herald's and River's migrations, applied or
// pending, only reading; herald migrate applies them; a version applied by
// a newer Herald is shown as such.
func TestMigrateStatus(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	dbURL := pgtest.NewEmptyDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL}

	before := runHerald(t, env, "migrate", "status")
	require.Equal(t, 0, before.code, before.stderr)
	require.Contains(t, before.stdout, "Herald migrations:\n")
	require.Regexp(t, `(?m)^\s+1  00001_foundation\.sql\s+pending$`, before.stdout)
	require.Regexp(t, `(?m)^\s+7  00007_api_key_lifecycle\.sql\s+pending$`, before.stdout)
	require.Contains(t, before.stdout, "River migrations:\n")
	require.Regexp(t, `(?m)^\s+1  \S+\s+pending$`, before.stdout)
	files, err := fs.Glob(migrations.FS(), "*.sql")
	require.NoError(t, err)
	require.Regexp(t, fmt.Sprintf(`Pending: %d of Herald's and \d+ of River's \(herald migrate applies them\)\.\n$`, len(files)), before.stdout)
	pool := pgtest.Open(t, dbURL)
	var tables int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables))
	require.Zero(t, tables, "status changes nothing")

	up := runHerald(t, env, "migrate", "up")
	require.Equal(t, 0, up.code, up.stderr)
	applied := make([]string, len(files))
	for i := range files {
		applied[i] = strconv.Itoa(i + 1)
	}
	require.Contains(t, up.stdout, "migrations applied: herald ["+strings.Join(applied, " ")+"], river [1 2 ")

	after := runHerald(t, env, "migrate", "status")
	require.Equal(t, 0, after.code, after.stderr)
	require.NotContains(t, after.stdout, "pending\n")
	require.Regexp(t, `(?m)^\s+7  00007_api_key_lifecycle\.sql\s+applied \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`, after.stdout)
	require.True(t, strings.HasSuffix(after.stdout, "Up to date: nothing pending.\n"), after.stdout)

	_, err = pool.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, true)`)
	require.NoError(t, err)
	ahead := runHerald(t, env, "migrate", "status")
	require.Equal(t, 0, ahead.code, ahead.stderr)
	require.Regexp(t, `(?m)^\s+999  \(unknown to this binary: applied by a newer Herald\)\s+applied `, ahead.stdout)
	require.True(t, strings.HasSuffix(ahead.stdout, "Up to date: nothing pending.\n"), "a database ahead lacks nothing")
}

// herald merchant keys: list by hint, roll (the new key printed once, the
// old one working for the overlap), revoke (at once), never the last key;
// mistakes exit 2, refusals exit 1 with a line that says why.
func TestMerchantKeysCommand(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": dbURL}
	pool := pgtest.Open(t, dbURL)
	store := accountpg.NewStore(pool)
	works := func(key string) bool {
		_, err := store.Authenticate(ctx, key)
		return err == nil
	}

	created := runHerald(t, env, "merchant", "create", "--name", "Acme", "--json")
	require.Equal(t, 0, created.code, created.stderr)
	var m map[string]string
	require.NoError(t, json.Unmarshal([]byte(created.stdout), &m))
	merchantID, oldKey := m["id"], m["secret_key"]
	_, _, err := store.Create(ctx, account.Merchant{Name: "Other"})
	require.NoError(t, err)

	list := runHerald(t, env, "merchant", "keys", "list", "--merchant", merchantID)
	require.Equal(t, 0, list.code, list.stderr)
	require.Regexp(t, `(?m)^ID\s+KEY\s+STATUS\s+CREATED\s+EXPIRES\s+REVOKED$`, list.stdout)
	require.Regexp(t, `(?m)^key_\S+\s+`+regexp.QuoteMeta(account.KeyHint(oldKey))+`\s+active\s+\S+\s+-\s+-$`, list.stdout)
	require.Equal(t, 2, strings.Count(list.stdout, "\n"), "the other merchant's key is not listed")
	require.NotContains(t, list.stdout, oldKey)
	oldID := regexp.MustCompile(`key_\S+`).FindString(list.stdout)

	rolled := runHerald(t, env, "merchant", "keys", "roll", "--merchant", merchantID, "--overlap", "1h")
	require.Equal(t, 0, rolled.code, rolled.stderr)
	newKey := regexp.MustCompile(`(?m)^sk_test_\S+$`).FindString(rolled.stdout)
	require.NotEmpty(t, newKey, rolled.stdout)
	require.Contains(t, rolled.stdout, "(shown once; Herald stores only its hash)\n")
	require.Regexp(t, `the old key `+oldID+` \(`+regexp.QuoteMeta(account.KeyHint(oldKey))+`\) works until \d{4}-\d\d-\d\dT`, rolled.stdout)
	require.True(t, works(newKey))
	require.True(t, works(oldKey), "the old key works for the overlap")
	var expires time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT expires_at FROM api_keys WHERE id = $1`, oldID).Scan(&expires))
	require.WithinDuration(t, time.Now().Add(time.Hour), expires, time.Minute)

	asJSON := runHerald(t, env, "merchant", "keys", "list", "--merchant", merchantID, "--json")
	require.Equal(t, 0, asJSON.code, asJSON.stderr)
	var keys []map[string]any
	require.NoError(t, json.Unmarshal([]byte(asJSON.stdout), &keys))
	require.Len(t, keys, 2)
	require.Equal(t, "active", keys[0]["status"])
	require.Equal(t, "expiring", keys[1]["status"])
	require.NotContains(t, asJSON.stdout, "secret")

	revoked := runHerald(t, env, "merchant", "keys", "revoke", "--merchant", merchantID, "--key", oldID)
	require.Equal(t, 0, revoked.code, revoked.stderr)
	require.Regexp(t, `^key `+oldID+` \(\S+\) revoked at \d{4}-`, revoked.stdout)
	require.False(t, works(oldKey), "revoked: fails at once")

	newID := keys[0]["id"].(string)
	last := runHerald(t, env, "merchant", "keys", "revoke", "--merchant", merchantID, "--key", newID)
	require.Equal(t, 1, last.code)
	require.Equal(t, "herald: key "+newID+" is merchant "+merchantID+"'s last key that does not expire: roll it instead (--overlap 0 ends it at once)\n", last.stderr)
	require.True(t, works(newKey))

	missing := runHerald(t, env, "merchant", "keys", "roll", "--merchant", merchantID, "--key", "key_missing")
	require.Equal(t, 1, missing.code)
	require.Equal(t, "herald: merchant "+merchantID+" has no key key_missing (see herald merchant keys list)\n", missing.stderr)

	_, err = pool.Exec(ctx, `INSERT INTO api_keys (id, hash, merchant_id, hint) VALUES ('key_second', '\x01', $1, 'sk_test_…abcd')`, merchantID)
	require.NoError(t, err)
	several := runHerald(t, env, "merchant", "keys", "roll", "--merchant", merchantID)
	require.Equal(t, exitUsage, several.code)
	require.Contains(t, several.stderr, "has 2 active keys")
	require.Contains(t, several.stderr, "name one with --key")

	ended := runHerald(t, env, "merchant", "keys", "roll", "--merchant", merchantID, "--key", newID, "--overlap", "0", "--json")
	require.Equal(t, 0, ended.code, ended.stderr)
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(ended.stdout), &out))
	require.Equal(t, "expired", out["previous"].(map[string]any)["status"])
	require.False(t, works(newKey), "no overlap: the rolled key ends at once")
	require.True(t, works(out["secret"].(string)))
}
