package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldpay/herald/account"
	"github.com/heraldpay/herald/account/accountpg"
	"github.com/heraldpay/herald/account/accounttest"
	"github.com/heraldpay/herald/dashboard"
)

var newKeyRE = regexp.MustCompile(`id="new-key">(sk_test_[0-9A-Za-z]+)<`)

// An operator rolls a merchant's key (the new key shown once, the old one
// working for the chosen overlap) and revokes one (failing at once), never
// the last; each action is audited, without the key; other merchants'
// keys are untouched.
func TestKeyActions(t *testing.T) {
	t.Parallel()

	ctx := context.Background()
	b := setup(t)
	accounts := accountpg.NewStore(b.pool)
	acme, acmeKey := accounttest.NewMerchant(t, b.pool, "Acme")
	other, otherKey := accounttest.NewMerchant(t, b.pool, "Other")
	oldRef, err := accounts.Authenticate(ctx, acmeKey)
	require.NoError(t, err)
	otherRef, err := accounts.Authenticate(ctx, otherKey)
	require.NoError(t, err)
	works := func(key string) bool {
		_, err := accounts.Authenticate(ctx, key)
		return err == nil
	}
	br := b.browser(t)
	token := br.signIn()
	keysURL := "/dashboard/keys?merchant=" + acme.ID

	choose := br.get("/dashboard/keys")
	require.Equal(t, http.StatusOK, choose.Status)
	require.Contains(t, choose.Body, `<option value="`+acme.ID+`">Acme</option>`)
	require.NotContains(t, choose.Body, `id="keys"`, "no merchant chosen, no keys")

	list := br.get(keysURL)
	require.Equal(t, http.StatusOK, list.Status, list.Body)
	require.Contains(t, list.Body, `id="key-`+oldRef.KeyID+`"`)
	require.Contains(t, list.Body, account.KeyHint(acmeKey))
	require.Contains(t, list.Body, `id="roll-`+oldRef.KeyID+`"`)
	require.Contains(t, list.Body, `id="revoke-`+oldRef.KeyID+`"`)
	require.NotContains(t, list.Body, otherRef.KeyID)
	require.NotContains(t, list.Body, acmeKey[len(account.KeyPrefix):len(acmeKey)-4], "never the key itself")

	roll := func(keyID, overlap string) page {
		return br.post("/dashboard/keys/"+keyID+"/roll", url.Values{"csrf_token": {token}, "merchant": {acme.ID}, "overlap": {overlap}})
	}
	require.Equal(t, http.StatusForbidden, br.post("/dashboard/keys/"+oldRef.KeyID+"/roll",
		url.Values{"merchant": {acme.ID}, "overlap": {"3600"}}).Status, "no form token")
	bad := roll(oldRef.KeyID, "60")
	require.Equal(t, http.StatusBadRequest, bad.Status, "an overlap not offered")
	keys, _, err := accounts.ListKeys(ctx, acme.ID, 10, "")
	require.NoError(t, err)
	require.Len(t, keys, 1, "nothing was rolled")

	rolled := roll(oldRef.KeyID, "3600")
	require.Equal(t, http.StatusOK, rolled.Status, rolled.Body)
	require.Equal(t, "no-store", rolled.Header.Get("Cache-Control"))
	m := newKeyRE.FindStringSubmatch(rolled.Body)
	require.NotNil(t, m, "the new key is shown: %s", rolled.Body)
	newKey := m[1]
	require.Contains(t, rolled.Body, `id="rolled-expires"`)
	require.True(t, works(newKey))
	require.True(t, works(acmeKey), "the old key works during the overlap")
	newRef, err := accounts.Authenticate(ctx, newKey)
	require.NoError(t, err)
	require.Equal(t, acme.ID, newRef.MerchantID)

	e := b.audit(t)[0]
	require.Equal(t, dashboard.ActionKeyRoll, e.Action)
	require.Equal(t, oldRef.KeyID, e.Target)
	require.Equal(t, acme.ID, e.MerchantID)
	require.Equal(t, dashboard.OutcomeSucceeded, e.Outcome)
	require.Equal(t, "1h0m0s", e.Detail["overlap"])
	require.Contains(t, e.Result, newRef.KeyID)
	require.NotContains(t, e.Result, newKey[len(account.KeyPrefix):len(newKey)-4], "the audit log never holds a key")
	require.NotContains(t, br.get(keysURL).Body, newKey, "shown once: the list has the hint only")

	revoked := br.post("/dashboard/keys/"+oldRef.KeyID+"/revoke", url.Values{"csrf_token": {token}, "merchant": {acme.ID}})
	require.Equal(t, http.StatusSeeOther, revoked.Status, revoked.Body)
	require.Equal(t, "/dashboard/keys?merchant="+acme.ID+"&notice=key_revoked", revoked.Location)
	require.False(t, works(acmeKey), "revoked: fails at once")
	require.Equal(t, dashboard.ActionKeyRevoke, b.audit(t)[0].Action)

	last := br.post("/dashboard/keys/"+newRef.KeyID+"/revoke", url.Values{"csrf_token": {token}, "merchant": {acme.ID}})
	require.Equal(t, http.StatusConflict, last.Status)
	require.Contains(t, last.Body, "last key")
	require.True(t, works(newKey))
	e = b.audit(t)[0]
	require.Equal(t, dashboard.ActionKeyRevoke, e.Action)
	require.Equal(t, dashboard.OutcomeFailed, e.Outcome)

	// Another merchant's key through this merchant: not found, untouched.
	for _, action := range []string{"revoke", "roll"} {
		p := br.post("/dashboard/keys/"+otherRef.KeyID+"/"+action, url.Values{"csrf_token": {token}, "merchant": {acme.ID}, "overlap": {"0"}})
		require.Equal(t, http.StatusNotFound, p.Status, action)
	}
	require.True(t, works(otherKey))
	keys, _, err = accounts.ListKeys(ctx, other.ID, 10, "")
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, account.KeyActive, keys[0].Status)

	for _, path := range []string{"/dashboard/keys/nope/revoke", "/dashboard/keys/" + newRef.KeyID + "/delete"} {
		require.Equal(t, http.StatusNotFound, br.post(path, url.Values{"csrf_token": {token}, "merchant": {acme.ID}}).Status, path)
	}
	require.Equal(t, http.StatusBadRequest, br.get("/dashboard/keys?merchant=nope").Status)
	requireSignInPage(t, b.browser(t).get(keysURL))
	require.True(t, strings.Contains(br.get("/dashboard/audit").Body, "/dashboard/keys?merchant="+acme.ID), "the audit log links the keys page")
}
