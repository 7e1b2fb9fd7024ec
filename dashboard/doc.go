// Package dashboard is Herald's operator dashboard, served below /dashboard:
// the delivery engine's health at a glance with charts of the last day,
// deliveries with their attempts, single and bulk redrive, endpoint health
// with pause, resume and re-enable, payments with their fraud decisions
// and the lifting of velocity blocks, merchants' API keys with roll and
// revoke, the audit log of operator actions, and River UI.
//
// Pages are rendered on the server from embedded templates and a stylesheet,
// with no script: a Content-Security-Policy allows none. Progress pages
// refresh themselves with a meta refresh. Charts are inline SVG drawn on
// the server, styled by the stylesheet (no inline style either), each with
// a title, a description and its numbers in a table.
//
// # Security
//
// Operators sign in with a shared password, kept only as a keyed digest and
// compared in constant time, and give their name for the audit log. Sign-in
// attempts are rate-limited per client IP. Sessions live in Postgres and end
// after an idle timeout or an absolute one; the cookie is HttpOnly,
// SameSite=Strict, limited to /dashboard and Secure over https. Every
// state-changing request passes http.CrossOriginProtection, and every form
// carries the session's token (the sign-in form a token bound to a
// pre-session cookie).
//
// # Storage and actions
//
// The pages read through ReadModel, sessions and the audit log through
// SessionStore and AuditLog (package dashboardpg implements all three on
// Postgres). Actions go through the delivery services, checkout's fraud
// service and the account service (Keys), which are scoped to a merchant:
// the dashboard looks the merchant up first, or posts it with the form.
// Each action, River
// UI's job and queue changes included, is written to the audit log before
// it runs and completed with its outcome.
//
// # Example
//
//	d := dashboard.New(dashboard.Config{
//		Password: os.Getenv("HERALD_DASHBOARD_PASSWORD"), Key: key,
//		Sessions: store, Audit: store, Reads: store,
//		Deliveries: deliveries, Endpoints: deliveries, Payments: checkoutService, Keys: accounts,
//		RiverUI: riverUIHandler, // built with Prefix dashboard.RiverUIPrefix
//	})
//	d.Register(router)
package dashboard
