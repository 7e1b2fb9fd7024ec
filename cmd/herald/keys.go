package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/internal/id"
)

const merchantKeysSynopsis = `Usage:
  herald merchant keys list   --merchant ID [--json]
  herald merchant keys roll   --merchant ID [--key KEY_ID] [--overlap 24h] [--json]
  herald merchant keys revoke --merchant ID --key KEY_ID [--json]

list shows a merchant's API keys by id and hint (never the key). roll makes
a new key, printed once, and lets the old one work for --overlap (0: it ends
at once; at most 168h); without --key it rolls the merchant's only key that
does not expire. revoke ends a key at once, but never the merchant's last
key that does not expire: roll that one instead.`

func runMerchantKeys(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	action := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	if action != "" && action != "list" && action != "roll" && action != "revoke" {
		return usageError{fmt.Errorf("unknown keys command %q (want list, roll or revoke)", action)}
	}
	fs := newFlagSet("herald merchant keys " + action)
	merchantID := fs.String("merchant", "", "the merchant's id, acct_… (required)")
	keyID := fs.String("key", "", "the key's id, key_… (see list)")
	overlap := fs.Duration("overlap", account.DefaultKeyOverlap, "how long a rolled key keeps working")
	asJSON := fs.Bool("json", false, "print JSON")
	databaseURL := databaseFlag(fs)
	if err := parseFlags(fs, args, merchantKeysSynopsis, databaseEnv); err != nil {
		return err
	}
	switch {
	case action == "":
		return usageError{errors.New("usage: herald merchant keys list|roll|revoke --merchant ID (see herald merchant keys -h)")}
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	case !id.HasPrefix(*merchantID, "acct"):
		return usageError{errors.New("--merchant is required: the merchant's id, acct_…")}
	case *keyID != "" && !id.HasPrefix(*keyID, account.KeyIDPrefix):
		return usageError{fmt.Errorf("invalid --key %q: want a key id, key_… (see herald merchant keys list)", *keyID)}
	case action == "revoke" && *keyID == "":
		return usageError{errors.New("--key is required: the id of the key to revoke, key_… (see herald merchant keys list)")}
	}
	if err := account.ValidateOverlap(*overlap, "--overlap"); err != nil {
		return usageError{fmt.Errorf("invalid --overlap %s: want 0 to %s", *overlap, account.MaxKeyOverlap)}
	}
	pool, err := openPool(ctx, *databaseURL, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := accountpg.NewStore(pool)
	out := keysOutput{w: stdout, json: *asJSON}
	switch action {
	case "list":
		keys, err := listAllKeys(ctx, store, *merchantID)
		if err != nil {
			return err
		}
		return out.list(keys)
	case "roll":
		if *keyID == "" {
			if *keyID, err = onlyActiveKey(ctx, store, *merchantID); err != nil {
				return err
			}
		}
		created, rolled, err := store.RollKey(ctx, *merchantID, *keyID, *overlap)
		if err != nil {
			return keyError(err, *merchantID, *keyID)
		}
		return out.rolled(account.RolledKey{Created: created, Previous: rolled})
	default:
		k, err := store.RevokeKey(ctx, *merchantID, *keyID)
		if err != nil {
			return keyError(err, *merchantID, *keyID)
		}
		return out.revoked(k)
	}
}

// listAllKeys reads every key of a merchant, page by page.
func listAllKeys(ctx context.Context, store *accountpg.Store, merchantID string) ([]account.APIKey, error) {
	var all []account.APIKey
	after := ""
	for {
		page, more, err := store.ListKeys(ctx, merchantID, 100, after)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if !more {
			return all, nil
		}
		after = page[len(page)-1].ID
	}
}

// onlyActiveKey is the key roll takes when none is named: the merchant's
// only key that does not expire.
func onlyActiveKey(ctx context.Context, store *accountpg.Store, merchantID string) (string, error) {
	keys, err := listAllKeys(ctx, store, merchantID)
	if err != nil {
		return "", err
	}
	var active []string
	for _, k := range keys {
		if k.Status == account.KeyActive {
			active = append(active, k.ID)
		}
	}
	switch len(active) {
	case 1:
		return active[0], nil
	case 0:
		return "", usageError{fmt.Errorf("merchant %s has no active key that does not expire: name one with --key (see herald merchant keys list)", merchantID)}
	}
	return "", usageError{fmt.Errorf("merchant %s has %d active keys (%s): name one with --key", merchantID, len(active), strings.Join(active, ", "))}
}

// keyError says what an account rule refused, naming the key.
func keyError(err error, merchantID, keyID string) error {
	switch {
	case errors.Is(err, account.ErrKeyNotFound):
		return fmt.Errorf("merchant %s has no key %s (see herald merchant keys list)", merchantID, keyID)
	case errors.Is(err, account.ErrKeyInactive):
		return fmt.Errorf("key %s is revoked or expired: there is nothing to roll", keyID)
	case errors.Is(err, account.ErrLastKey):
		return fmt.Errorf("key %s is merchant %s's last key that does not expire: roll it instead (--overlap 0 ends it at once)", keyID, merchantID)
	}
	return err
}

// keysOutput prints keys as text for people or JSON for scripts.
type keysOutput struct {
	w    io.Writer
	json bool
}

func (o keysOutput) encode(v any) error { return json.NewEncoder(o.w).Encode(v) }

func (o keysOutput) list(keys []account.APIKey) error {
	if o.json {
		if keys == nil {
			keys = []account.APIKey{}
		}
		return o.encode(keys)
	}
	tw := tabwriter.NewWriter(o.w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKEY\tSTATUS\tCREATED\tEXPIRES\tREVOKED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Hint, k.Status, stamp(&k.Created), stamp(k.ExpiresAt), stamp(k.RevokedAt))
	}
	return tw.Flush()
}

func (o keysOutput) rolled(r account.RolledKey) error {
	if o.json {
		return o.encode(r)
	}
	fmt.Fprintf(o.w, "new key %s:\n%s\n(shown once; Herald stores only its hash)\n", r.Created.ID, r.Created.Secret)
	if r.Previous.Status == account.KeyExpired {
		fmt.Fprintf(o.w, "the old key %s (%s) has stopped working\n", r.Previous.ID, r.Previous.Hint)
	} else {
		fmt.Fprintf(o.w, "the old key %s (%s) works until %s\n", r.Previous.ID, r.Previous.Hint, stamp(r.Previous.ExpiresAt))
	}
	return nil
}

func (o keysOutput) revoked(k account.APIKey) error {
	if o.json {
		return o.encode(k)
	}
	fmt.Fprintf(o.w, "key %s (%s) revoked at %s\n", k.ID, k.Hint, stamp(k.RevokedAt))
	return nil
}

// stamp formats a time for the CLI, "-" for none.
func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
