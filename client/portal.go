package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// PortalSession is a link to the merchant portal: a page where the
// merchant's staff see their endpoints and health, deliveries with every
// attempt, and redrive one, send what a disabled endpoint missed, roll a
// secret or send a test event. The link is the credential: hand it to
// signed-in staff only.
type PortalSession struct {
	// ID is the portal session's id, ps_….
	ID string
	// URL is the link; it works until ExpiresAt (one hour).
	URL string
	// Created and ExpiresAt bound the link's life.
	Created, ExpiresAt time.Time
}

// UnmarshalJSON decodes the API object (Unix-second times).
func (p *PortalSession) UnmarshalJSON(data []byte) error {
	var w struct {
		ID        string `json:"id"`
		URL       string `json:"url"`
		Created   int64  `json:"created"`
		ExpiresAt int64  `json:"expires_at"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*p = PortalSession{ID: w.ID, URL: w.URL, Created: time.Unix(w.Created, 0).UTC(), ExpiresAt: time.Unix(w.ExpiresAt, 0).UTC()}
	return nil
}

// PortalSessionService is the portal links API: Client.PortalSessions.
type PortalSessionService struct{ c *Client }

// Create makes a one-hour link to the merchant portal for this Client's
// merchant.
func (s *PortalSessionService) Create(ctx context.Context, opts ...RequestOption) (*PortalSession, error) {
	return send[PortalSession](ctx, s.c, http.MethodPost, "/v1/portal_sessions", nil, nil, opts)
}
