package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/delivery/deliverypg"
	"github.com/heraldpay/herald/internal/idempotency"
	"github.com/heraldpay/herald/internal/seal"
)

const secretsSynopsis = `Usage:
  herald secrets generate [--id KID]
  herald secrets rotate [flags]

generate prints a new server key as a HERALD_SECRETS entry, kid:base64key
(32 random bytes; the id is derived from them unless --id names it).

rotate re-seals everything Herald stores sealed (webhook endpoint secrets,
idempotent responses, the card fingerprint key) under the current key, the
first of HERALD_SECRETS, while Herald runs: in batches, each value written
only if unchanged meanwhile. Run it again and it changes nothing. To rotate:
put the new key first in HERALD_SECRETS, keeping the old one after it, and
restart every process; run herald secrets rotate; once it reports nothing
left under another key (and at least 24 hours later, for payment forms and
3-D Secure challenges handed out before), remove the old key and restart.`

func runSecrets(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	action := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	switch action {
	case "generate":
		return runSecretsGenerate(args, stdout)
	case "rotate":
		return runSecretsRotate(ctx, args, getenv, stdout)
	case "":
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			return helpRequest{secretsSynopsis + "\n"}
		}
		return usageError{errors.New("usage: herald secrets generate|rotate (see herald secrets -h)")}
	}
	return usageError{fmt.Errorf("unknown secrets command %q (want generate or rotate)", action)}
}

func runSecretsGenerate(args []string, stdout io.Writer) error {
	fs := newFlagSet("herald secrets generate")
	kid := fs.String("id", "", "the key's id: letters, digits, '-' or '_' (default: derived from the key)")
	if err := parseFlags(fs, args, secretsSynopsis, nil); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	k, err := newKey(*kid)
	if err != nil {
		return usageError{err}
	}
	fmt.Fprintln(stdout, seal.FormatKey(k))
	return nil
}

// rotatePasses bounds the passes of a rotation: a value changed during one
// (a secret rolled) may leave its old value to the next.
const rotatePasses = 3

func runSecretsRotate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := newFlagSet("herald secrets rotate")
	var cfg Config
	s := &settings{fs: fs, getenv: getenv}
	s.add("database-url", "DATABASE_URL", "", "Postgres connection string", parseDatabaseURL(&cfg.DatabaseURL))
	addEnvSetting(s, &cfg)
	addSecretSettings(s, &cfg)
	batch := 0
	s.add("batch", "", "500", "values re-sealed per statement batch", parseInt(&batch, 1))
	if err := parseFlags(fs, args, secretsSynopsis, s.env); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if err := s.apply(); err != nil {
		return usageError{err}
	}
	if err := cfg.foldSecrets(); err != nil {
		return usageError{err}
	}
	if cfg.Secrets == nil && cfg.Env != envDev {
		return usageError{errors.New("HERALD_SECRETS (or HERALD_SECRET) is required: rotate re-seals under its first key")}
	}
	pool, err := openPool(ctx, cfg.DatabaseURL, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	ring, err := serverKeyring(ctx, pool, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "current key %s; keyring %s\n", ring.Current().ID, strings.Join(ring.IDs(), ", "))
	tallies, err := rotate(ctx, pool, ring, batch)
	if err != nil {
		return err
	}
	var total seal.Tally
	for _, k := range tallies {
		fmt.Fprintf(stdout, "%-26s %d re-sealed", k.name+":", k.tally.Resealed)
		if k.tally.Changed > 0 {
			fmt.Fprintf(stdout, ", %d changing while re-sealed (run rotate again)", k.tally.Changed)
		}
		if k.tally.Unreadable > 0 {
			fmt.Fprintf(stdout, ", %d unreadable", k.tally.Unreadable)
		}
		fmt.Fprintln(stdout)
		total.Add(k.tally)
	}
	if total.Unreadable > 0 {
		missing := "corrupt, or sealed under a key no longer known"
		if len(total.UnknownKeys) > 0 {
			missing = "sealed under " + strings.Join(quoteAll(total.UnknownKeys), ", ") + ", not in the keyring"
		}
		return fmt.Errorf("%d sealed values could not be opened (%s): put the missing key back in HERALD_SECRETS, after the current one, and run rotate again", total.Unreadable, missing)
	}
	if total.Changed > 0 {
		return fmt.Errorf("%d sealed values kept changing while being re-sealed: run herald secrets rotate again", total.Changed)
	}
	if len(ring.IDs()) > 1 {
		fmt.Fprintf(stdout, "nothing left under another key: %s can leave HERALD_SECRETS\n", strings.Join(ring.IDs()[1:], ", "))
	} else {
		fmt.Fprintln(stdout, "nothing left under another key")
	}
	return nil
}

func quoteAll(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.Quote(id)
	}
	return out
}

// kindTally is what a rotation did to one kind of sealed value.
type kindTally struct {
	name  string
	tally seal.Tally
}

// rotate re-seals every kind of sealed value under ring's current key,
// each by the package that owns its table. A kind is passed over again
// while values changed under a pass (a secret rolled moves the value it
// replaced to previous), at most rotatePasses times; what the last pass
// could not open, or saw change, is reported.
func rotate(ctx context.Context, pool *pgxpool.Pool, ring *seal.Keyring, batch int) ([]kindTally, error) {
	idem := idempotency.NewStore(pool, ring.Box(purposeIdempotency), slog.New(slog.DiscardHandler))
	endpointBox, settingsBox := ring.Box(purposeWebhookSecrets), ring.Box(purposeSettings)
	kinds := []struct {
		name   string
		reseal func(context.Context) (seal.Tally, error)
	}{
		{"webhook endpoint secrets", func(ctx context.Context) (seal.Tally, error) {
			return deliverypg.ResealSecrets(ctx, pool, endpointBox, batch)
		}},
		{"idempotent responses", func(ctx context.Context) (seal.Tally, error) { return idem.Reseal(ctx, batch) }},
		{"settings", func(ctx context.Context) (seal.Tally, error) { return resealSettings(ctx, pool, settingsBox) }},
	}
	out := make([]kindTally, len(kinds))
	for i, k := range kinds {
		out[i].name = k.name
		for range rotatePasses {
			t, err := k.reseal(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k.name, err)
			}
			sum := &out[i].tally
			sum.Resealed += t.Resealed
			sum.Changed, sum.Unreadable, sum.UnknownKeys = t.Changed, t.Unreadable, t.UnknownKeys
			if t.Changed == 0 {
				break
			}
		}
	}
	return out, nil
}
