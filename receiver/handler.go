package receiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/heraldpay/herald/webhook"
)

// DefaultMaxBody bounds a webhook request body; Herald's events are a few
// KiB.
const DefaultMaxBody = 1 << 20

// EventFunc handles one event. Return nil only once the work is done (and,
// with pgstore's Store, written through pgstore.TxFromContext(ctx)); an
// error makes the handler answer 500 and Herald retry. Decode the event's
// object with its typed methods (ev.Session(), ev.Charge(), …).
type EventFunc func(ctx context.Context, ev webhook.Event) error

// Handler is an http.Handler receiving Herald webhooks: it verifies the
// signature, deduplicates on webhook-id through its Store and dispatches by
// event type.
type Handler struct {
	verifier *webhook.Verifier
	store    Store

	// mu guards handlers, so that On may be called while requests are
	// being served.
	mu       sync.RWMutex
	handlers map[string]EventFunc

	// MaxBody bounds the request body. Default DefaultMaxBody.
	MaxBody int64
	// Logger receives one line per failed request; default slog.Default().
	// It never receives bodies or secrets.
	Logger *slog.Logger
}

// NewHandler returns a Handler verifying with secrets (the endpoint's
// whsec_ secret; pass the old and the new one during a rotation) and
// recording processed events in store.
func NewHandler(store Store, secrets ...string) (*Handler, error) {
	v, err := webhook.NewVerifier(secrets...)
	if err != nil {
		return nil, fmt.Errorf("receiver: %w", err)
	}
	return &Handler{verifier: v, store: store, handlers: map[string]EventFunc{}}, nil
}

// Verifier exposes the signature check, e.g. to change its Tolerance.
func (h *Handler) Verifier() *webhook.Verifier { return h.verifier }

// On registers fn for events of type typ (webhook.TypeCheckoutSessionCompleted
// …), replacing any function registered before; a nil fn removes it. Events
// of types nobody handles are acknowledged and dropped. On is safe to call
// at any time, also while the Handler serves requests: a request runs the
// function registered when it was dispatched.
func (h *Handler) On(typ string, fn EventFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if fn == nil {
		delete(h.handlers, typ)
		return
	}
	h.handlers[typ] = fn
}

// handler returns the function registered for typ.
func (h *Handler) handler(typ string) (EventFunc, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	fn, ok := h.handlers[typ]
	return fn, ok
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reply(w, r, http.StatusMethodNotAllowed, "webhooks are POSTed", nil)
		return
	}
	maxBody := h.MaxBody
	if maxBody == 0 {
		maxBody = DefaultMaxBody
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		h.reply(w, r, http.StatusRequestEntityTooLarge, "body too large or unreadable", err)
		return
	}
	if err := h.verifier.Verify(r.Header, body); err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, webhook.ErrMissingHeaders) || errors.Is(err, webhook.ErrInvalidTimestamp) {
			status = http.StatusBadRequest
		}
		h.reply(w, r, status, err.Error(), err)
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Type == "" {
		h.reply(w, r, http.StatusBadRequest, "body is not a Herald event", err)
		return
	}
	if ev.ID != r.Header.Get(webhook.HeaderID) {
		h.reply(w, r, http.StatusBadRequest, "event id does not match webhook-id", nil)
		return
	}
	fn, ok := h.handler(ev.Type)
	if !ok {
		h.reply(w, r, http.StatusOK, "ignored: no handler for "+ev.Type, nil)
		return
	}
	ran, err := h.store.Once(r.Context(), "webhook:"+ev.ID, func(ctx context.Context) error { return fn(ctx, ev) })
	switch {
	case err != nil:
		h.reply(w, r, http.StatusInternalServerError, "processing failed; Herald will retry", err)
	case !ran:
		h.reply(w, r, http.StatusOK, "duplicate: already processed", nil)
	default:
		h.reply(w, r, http.StatusOK, "processed", nil)
	}
}

func (h *Handler) reply(w http.ResponseWriter, r *http.Request, status int, message string, err error) {
	if status >= 400 {
		logger := h.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.WarnContext(r.Context(), "webhook refused", "status", status, "webhook_id", r.Header.Get(webhook.HeaderID), "err", err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, message+"\n")
}
