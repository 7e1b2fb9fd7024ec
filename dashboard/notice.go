package dashboard

// notice is a one-line message after an action, chosen by a code in the
// URL (never text from the URL).
type notice struct {
	// Tone is ok, info or error.
	Tone string
	Text string
}

func noticeFor(code string) *notice {
	switch code {
	case "redriven":
		return &notice{"ok", "Redrive queued: the delivery went out again with a fresh set of attempts."}
	case "still_pending":
		return &notice{"info", "This delivery is still on its way, so the redrive left it alone."}
	case "endpoint_disabled":
		return &notice{"error", "Its endpoint is disabled: re-enable the endpoint first, then redrive."}
	case "paused":
		return &notice{"ok", "Endpoint paused: its deliveries are held, without spending attempts, until it is resumed."}
	case "resumed":
		return &notice{"ok", "Endpoint resumed: its held deliveries are on their way."}
	case "enabled":
		return &notice{"ok", "Endpoint re-enabled. Nothing was redriven: use Bulk redrive for what it missed."}
	case "enabled_sending":
		return &notice{"ok", "Endpoint re-enabled. A redrive is sending the deliveries it missed; follow it on the Redrives page."}
	case "sending":
		return &notice{"ok", "A redrive is sending the deliveries this endpoint missed; follow it on the Redrives page."}
	case "canceled":
		return &notice{"ok", "Redrive canceled. Deliveries it had already enqueued still go out."}
	case "finished":
		return &notice{"info", "This redrive had already ended, so there was nothing to cancel."}
	case "cleared_ip":
		return &notice{"ok", "The client IP's velocity block is lifted: its earlier declines no longer count."}
	case "cleared_card":
		return &notice{"ok", "The card's velocity block is lifted: its earlier declines no longer count."}
	case "cleared_session":
		return &notice{"ok", "The checkout session's velocity block is lifted: its earlier declines no longer count."}
	case "key_revoked":
		return &notice{"ok", "API key revoked: it fails from its next request on."}
	case "signed_out":
		return &notice{"ok", "You have signed out."}
	case "expired":
		return &notice{"info", "Your session has ended. Sign in again to continue."}
	}
	return nil
}
