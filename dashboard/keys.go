package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/internal/id"
)

// keysPageLimit bounds the keys listed for one merchant; a merchant has a
// handful.
const keysPageLimit = 100

// keyOverlaps are the roll form's choices: how long the rolled key keeps
// working, as seconds and label, the default first.
var keyOverlaps = [][2]string{
	{"86400", "24 hours"},
	{"3600", "1 hour"},
	{"604800", "7 days"},
	{"0", "no overlap: end it now"},
}

// keysView is the API keys page's data.
type keysView struct {
	Merchant  string
	Merchants []Merchant
	Keys      []account.APIKey
	More      bool
	Overlaps  [][2]string
}

func (d *Dashboard) handleKeys(w http.ResponseWriter, r *http.Request) {
	merchantID := r.URL.Query().Get("merchant")
	if merchantID != "" && !id.HasPrefix(merchantID, "acct") {
		d.message(w, r, http.StatusBadRequest, "Invalid filter", "This link's merchant is not one the dashboard knows. Choose a merchant from the list.")
		return
	}
	merchants, err := d.cfg.Reads.ListMerchants(r.Context(), merchantOptionsLimit)
	if err != nil {
		d.serverError(w, r, err)
		return
	}
	v := keysView{Merchant: merchantID, Merchants: merchants, Overlaps: keyOverlaps}
	if merchantID != "" {
		if v.Keys, v.More, err = d.cfg.Keys.ListKeys(r.Context(), merchantID, keysPageLimit, ""); err != nil {
			d.serverError(w, r, err)
			return
		}
	}
	d.page(w, r, http.StatusOK, "keys", navKeys, "API keys", v)
}

// keyRolledView shows a new key, once.
type keyRolledView struct {
	MerchantID string
	Created    account.APIKey
	Rolled     account.APIKey
}

func (d *Dashboard) handleKeyAction(w http.ResponseWriter, r *http.Request) {
	keyID, merchantID := chi.URLParam(r, "id"), r.PostFormValue("merchant")
	action := chi.URLParam(r, "action")
	if !id.HasPrefix(keyID, account.KeyIDPrefix) || !id.HasPrefix(merchantID, "acct") || (action != "roll" && action != "revoke") {
		d.notFound(w, r)
		return
	}
	back := withQuery("/dashboard/keys", url.Values{"merchant": {merchantID}})
	if action == "revoke" {
		err := d.audited(r, &AuditEntry{Action: ActionKeyRevoke, MerchantID: merchantID, Target: keyID},
			func(ctx context.Context) (string, string, error) {
				k, err := d.cfg.Keys.RevokeKey(ctx, merchantID, keyID)
				return "", "revoked " + k.Hint, err
			})
		if err != nil {
			d.keyFailed(w, r, err, back)
			return
		}
		http.Redirect(w, r, withNotice(back, "key_revoked"), http.StatusSeeOther)
		return
	}

	overlap, ok := parseOverlap(r.PostFormValue("overlap"))
	if !ok {
		d.message(w, r, http.StatusBadRequest, "Not done", "Choose how long the old key keeps working from the list.")
		return
	}
	var v keyRolledView
	err := d.audited(r, &AuditEntry{Action: ActionKeyRoll, MerchantID: merchantID, Target: keyID,
		Detail: map[string]string{"overlap": overlap.String()}},
		func(ctx context.Context) (string, string, error) {
			created, rolled, err := d.cfg.Keys.RollKey(ctx, merchantID, keyID, overlap)
			if err != nil {
				return "", "", err
			}
			v = keyRolledView{MerchantID: merchantID, Created: created, Rolled: rolled}
			return "", fmt.Sprintf("new key %s (%s); the old one stops working %s", created.ID, created.Hint,
				rolled.ExpiresAt.UTC().Format(time.RFC3339)), nil
		})
	if err != nil {
		d.keyFailed(w, r, err, back)
		return
	}
	// The new key is in this answer only: no redirect (its URL would be
	// reloadable), and, like every dashboard page, no-store.
	d.page(w, r, http.StatusOK, "keyrolled", navKeys, "New API key", v)
}

// keyFailed answers a key action refused by the account rules.
func (d *Dashboard) keyFailed(w http.ResponseWriter, r *http.Request, err error, back string) {
	var heading, msg string
	status := http.StatusConflict
	switch {
	case errors.Is(err, account.ErrKeyNotFound):
		d.notFound(w, r)
		return
	case errors.Is(err, account.ErrLastKey):
		heading, msg = "Not revoked", "This is the merchant's last key that does not expire: revoking it would lock the merchant out. "+
			"Roll it instead; with no overlap the old key ends at once."
	case errors.Is(err, account.ErrKeyInactive):
		heading, msg = "Not rolled", "This key is revoked or has expired: there is nothing left to roll."
	default:
		d.fail(w, r, err)
		return
	}
	v := view{Title: heading, Session: sessionFrom(r.Context()), RiverUI: d.cfg.RiverUI != nil,
		Data: messageView{Heading: heading, Message: msg, LinkURL: back, LinkText: "Back to the merchant's keys"}}
	d.pages.render(w, r, status, "message", v)
}

// parseOverlap reads the roll form's overlap: one of keyOverlaps.
func parseOverlap(v string) (time.Duration, bool) {
	for _, o := range keyOverlaps {
		if o[0] == v {
			d, err := time.ParseDuration(v + "s")
			return d, err == nil
		}
	}
	return 0, false
}
