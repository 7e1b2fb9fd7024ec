// Package idempotency makes POST requests safe to retry: a request sent
// again with the same Idempotency-Key header gets the first response back
// instead of acting twice.
//
// Semantics (as Stripe's): keys are scoped to a merchant and kept 24 hours.
// The same key with the same method, path and body replays the stored
// status and body (with Idempotent-Replayed: true); with a different body it
// is refused with 422 idempotency_error; while the first request is still
// running, a retry gets 409 idempotency_error. Responses of 500 and above,
// and 429s, are not stored, so the retry runs again.
//
// # Leases
//
// A request holds its key by a lease (Store.Lease, 15 s by default) that a
// heartbeat renews while the request runs. A process that dies mid-request
// stops renewing, so the key is free again within one lease, and a retry
// runs the request. Two executions of one key never overlap: a request
// that cannot renew its lease in time, or finds it taken, has its context
// cancelled with ErrLeaseLost before another request could take the key
// over, and a request only ever completes or releases its own claim.
//
// # Stored responses are sealed
//
// Responses can carry secrets (a webhook endpoint's signing secret is shown
// on create and roll only), so the stored body is sealed with AES-GCM and
// bound to its merchant and key: a database dump reveals none of it. The
// sealed body names its server key, and Reseal moves stored bodies to the
// current key of a rotated keyring. A stored body that cannot be opened
// (its key left the keyring before a re-seal, or the row was tampered with)
// is answered with 409 idempotency_key_unreadable rather than by running
// the request a second time.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/heraldpay/herald/internal/httpapi"
	"github.com/heraldpay/herald/internal/seal"
	"github.com/heraldpay/herald/internal/validation"
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// ErrLeaseLost is the cause (context.Cause) of a request context cancelled
// because the request no longer holds its key: a renewal found the lease
// expired or taken over, or none succeeded before it would expire.
var ErrLeaseLost = errors.New("idempotency: lease on the key lost")

// Store keeps keys and responses in Postgres. Set its fields before serving.
type Store struct {
	pool   *pgxpool.Pool
	box    *seal.Box
	logger *slog.Logger
	// TTL is how long a key is remembered. Default 24 hours.
	TTL time.Duration
	// Lease is how long a claim on a key stays valid without renewal: a
	// request killed mid-flight frees its key this long after its last
	// renewal at most. Default 15 seconds.
	Lease time.Duration
	// Heartbeat is how often a running request renews its lease. A request
	// whose lease has less than half a heartbeat left unrenewed is
	// cancelled. Zero means Lease/3.
	Heartbeat time.Duration
	// MaxBody bounds the request body hashed. Default httpapi.DefaultMaxBody.
	MaxBody int64
}

// NewStore returns a Store with the defaults above. box seals the stored
// responses; it must not be nil.
func NewStore(pool *pgxpool.Pool, box *seal.Box, logger *slog.Logger) *Store {
	if box == nil {
		panic("idempotency: NewStore needs a seal.Box")
	}
	return &Store{pool: pool, box: box, logger: logger, TTL: 24 * time.Hour, Lease: 15 * time.Second,
		MaxBody: httpapi.DefaultMaxBody}
}

func (s *Store) heartbeat() time.Duration {
	if s.Heartbeat > 0 {
		return s.Heartbeat
	}
	return s.Lease / 3
}

// Middleware applies idempotency to POST requests that carry the header.
// It must run after httpapi.RequireKey.
func (s *Store) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(Header)
		if r.Method != http.MethodPost || key == "" {
			next.ServeHTTP(w, r)
			return
		}
		if err := validateKey(key); err != nil {
			httpapi.WriteError(w, r, s.logger, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBody))
		if err != nil {
			httpapi.WriteError(w, r, s.logger, &httpapi.Error{Status: http.StatusRequestEntityTooLarge,
				Type: httpapi.TypeInvalidRequest, Code: "body_too_large",
				Message: fmt.Sprintf("The request body must be at most %d bytes.", s.MaxBody)})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		hash := sha256.Sum256(fmt.Appendf(nil, "%s %s\n%s", r.Method, r.URL.Path, body))

		c, stored, err := s.claim(r.Context(), httpapi.MerchantID(r.Context()), key, hash[:])
		if err != nil {
			httpapi.WriteError(w, r, s.logger, err)
			return
		}
		if c == nil {
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(stored.status)
			_, _ = w.Write(stored.body)
			return
		}

		ctx, cancel := context.WithCancelCause(r.Context())
		defer cancel(nil)
		stopHeartbeat := s.keepAlive(ctx, c, cancel)
		rec := &recorder{StatusRecorder: httpapi.StatusRecorder{ResponseWriter: w}}
		completed := false
		defer func() {
			// Runs on panic too: release the claim so a retry is not stuck
			// behind a request that will never answer. The heartbeat stops
			// first, so nothing renews a claim being finished.
			stopHeartbeat()
			err := s.finish(context.WithoutCancel(ctx), c, rec, completed)
			switch {
			case errors.Is(err, ErrLeaseLost):
				s.logger.WarnContext(ctx, "idempotency key taken over before the response was stored",
					"request_id", httpapi.RequestID(ctx), "status", rec.StatusOrOK())
			case err != nil:
				s.logger.ErrorContext(ctx, "store idempotent response", "request_id", httpapi.RequestID(ctx), "err", err)
			}
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
		completed = true
	})
}

func validateKey(key string) error {
	if len(key) > 255 {
		return &validation.Error{Code: "idempotency_key_invalid",
			Message: "The Idempotency-Key header must be at most 255 characters."}
	}
	for _, c := range key {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) {
			return &validation.Error{Code: "idempotency_key_invalid",
				Message: "The Idempotency-Key header must be printable ASCII."}
		}
	}
	return nil
}

// claim is a request's hold on a key. claimedAt (the row's created_at, set
// by the database) tells this claim apart from any later one on the same
// key: a key is taken over only after the previous lease expired, so two
// claims never share it. Every write of the holder is fenced by it.
type claim struct {
	merchantID string
	key        string
	claimedAt  time.Time
	// expires is when the lease ends at the latest, on the local clock.
	expires time.Time
}

// sealContext binds a sealed response to its row: a body copied into
// another merchant's or key's row does not open there. Keys are printable
// ASCII, so the NUL cannot be forged.
func sealContext(merchantID, key string) string {
	return "idempotency\x00" + merchantID + "\x00" + key
}

type response struct {
	status int
	body   []byte
}

// replayable reports whether a response is stored for replay. Server
// errors and rate limits are not: the retry should run again.
func replayable(status int) bool {
	return status < http.StatusInternalServerError && status != http.StatusTooManyRequests
}

func inUse(message string) *httpapi.Error {
	return &httpapi.Error{Status: http.StatusConflict, Type: httpapi.TypeIdempotency, Code: "idempotency_key_in_use", Message: message}
}

// claim takes the key for this request (a non-nil claim), or returns the
// stored response. A finished key past its TTL is taken over, as is a claim
// whose lease expired (its process died) for the same request, or for any
// request once past the TTL. All times are the database's, which every
// Herald process shares.
func (s *Store) claim(ctx context.Context, merchantID, key string, hash []byte) (*claim, response, error) {
	// Two tries: the row we conflicted with may be deleted (its request
	// failed) between the INSERT and the SELECT.
	for range 2 {
		// The lease is known to last until Lease after this moment: the
		// database computes its expiry from a later now().
		sent := time.Now()
		var claimedAt time.Time
		err := s.pool.QueryRow(ctx, `
			INSERT INTO idempotency_keys (merchant_id, key, request_hash, created_at, locked_until)
			VALUES ($1, $2, $3, now(), now() + $4::interval)
			ON CONFLICT (merchant_id, key) DO UPDATE
				SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at,
					locked_until = EXCLUDED.locked_until, response_status = NULL, response_body = NULL
				WHERE CASE WHEN idempotency_keys.response_status IS NOT NULL
					THEN idempotency_keys.created_at < now() - $5::interval
					ELSE coalesce(idempotency_keys.locked_until, '-infinity') < now()
						AND (idempotency_keys.request_hash = EXCLUDED.request_hash
							OR idempotency_keys.created_at < now() - $5::interval)
					END
			RETURNING created_at`,
			merchantID, key, hash, s.Lease, s.TTL).Scan(&claimedAt)
		if err == nil {
			return &claim{merchantID: merchantID, key: key, claimedAt: claimedAt, expires: sent.Add(s.Lease)}, response{}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, response{}, fmt.Errorf("claim idempotency key: %w", err)
		}
		var (
			storedHash []byte
			status     *int
			sealed     []byte
		)
		err = s.pool.QueryRow(ctx, `SELECT request_hash, response_status, response_body FROM idempotency_keys
			WHERE merchant_id = $1 AND key = $2`, merchantID, key).Scan(&storedHash, &status, &sealed)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, response{}, fmt.Errorf("read idempotency key: %w", err)
		}
		switch {
		case !bytes.Equal(storedHash, hash):
			return nil, response{}, &httpapi.Error{Status: http.StatusUnprocessableEntity, Type: httpapi.TypeIdempotency,
				Code: "idempotency_key_reused", Message: "Keys for idempotent requests can only be used with the same " +
					"method, path and parameters as the first request. Use a new Idempotency-Key for a different request."}
		case status == nil:
			return nil, response{}, inUse("A request with this Idempotency-Key is still being processed. Retry shortly.")
		}
		body, err := s.box.Open(string(sealed), sealContext(merchantID, key))
		if err != nil {
			// Running the request again could act twice; answering 500
			// would be retried for 24 hours. Say what happened instead.
			s.logger.WarnContext(ctx, "stored idempotent response cannot be opened", "request_id", httpapi.RequestID(ctx), "err", err)
			return nil, response{}, &httpapi.Error{Status: http.StatusConflict, Type: httpapi.TypeIdempotency,
				Code: "idempotency_key_unreadable", Message: "The request with this Idempotency-Key was already processed, " +
					"but its stored response can no longer be read, so it cannot be replayed. Check whether the first " +
					"request took effect, then use a new Idempotency-Key if it must be sent again."}
		}
		return nil, response{status: *status, body: []byte(body)}, nil
	}
	return nil, response{}, inUse("A request with this Idempotency-Key is being retried concurrently. Retry shortly.")
}

// keepAlive renews c's lease every heartbeat until the returned stop is
// called (stop waits for it). When the lease is lost, or cannot be renewed
// while more than half a heartbeat of it is left, it cancels the request
// with ErrLeaseLost: past that point another request may take the key.
func (s *Store) keepAlive(ctx context.Context, c *claim, cancel context.CancelCauseFunc) (stop func()) {
	hbCtx, stopRenewing := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := s.heartbeat()
		margin := every / 2
		timer := time.NewTimer(min(every, time.Until(c.expires.Add(-margin))))
		defer timer.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-timer.C:
			}
			cutoff := c.expires.Add(-margin)
			if !time.Now().Before(cutoff) {
				s.logger.WarnContext(ctx, "idempotency lease not renewed in time; cancelling the request", "request_id", httpapi.RequestID(ctx))
				cancel(ErrLeaseLost)
				return
			}
			renewCtx, endRenew := context.WithDeadline(hbCtx, cutoff)
			sent := time.Now()
			held, err := s.renew(renewCtx, c)
			endRenew()
			switch {
			case hbCtx.Err() != nil:
				return
			case err == nil && held:
				c.expires = sent.Add(s.Lease)
			case err == nil:
				s.logger.WarnContext(ctx, "idempotency lease lost; cancelling the request", "request_id", httpapi.RequestID(ctx))
				cancel(ErrLeaseLost)
				return
			default:
				// Try again at the next beat, or give up at the cutoff.
				s.logger.WarnContext(ctx, "renew idempotency lease", "request_id", httpapi.RequestID(ctx), "err", err)
			}
			timer.Reset(min(every, time.Until(c.expires.Add(-margin))))
		}
	}()
	return func() {
		stopRenewing()
		<-done
	}
}

// renew extends c's lease and reports whether c still held it. An expired
// lease is never revived: another request may be taking the key over.
func (s *Store) renew(ctx context.Context, c *claim) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE idempotency_keys SET locked_until = now() + $4::interval
		WHERE merchant_id = $1 AND key = $2 AND created_at = $3 AND response_status IS NULL AND locked_until > now()`,
		c.merchantID, c.key, c.claimedAt, s.Lease)
	if err != nil {
		return false, fmt.Errorf("renew idempotency lease: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// finish stores a final response, sealed, or releases the claim when the
// response must not be replayed (server errors, rate limits, panics). It
// touches only c's own claim: a request that lost its key to another never
// overwrites or frees the other's. It returns ErrLeaseLost when the claim
// was gone.
func (s *Store) finish(ctx context.Context, c *claim, rec *recorder, completed bool) error {
	status := rec.StatusOrOK()
	if !completed || !replayable(status) {
		_, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys
			WHERE merchant_id = $1 AND key = $2 AND created_at = $3 AND response_status IS NULL`,
			c.merchantID, c.key, c.claimedAt)
		if err != nil {
			return fmt.Errorf("release idempotency key: %w", err)
		}
		return nil
	}
	sealed := s.box.Seal(rec.body.String(), sealContext(c.merchantID, c.key))
	tag, err := s.pool.Exec(ctx, `UPDATE idempotency_keys SET response_status = $4, response_body = $5, locked_until = NULL
		WHERE merchant_id = $1 AND key = $2 AND created_at = $3 AND response_status IS NULL`,
		c.merchantID, c.key, c.claimedAt, status, []byte(sealed))
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

// DeleteExpired removes keys past their TTL, except claims whose lease is
// still held, and returns how many.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys
		WHERE created_at < now() - $1::interval
			AND (response_status IS NOT NULL OR coalesce(locked_until, '-infinity') < now())`, s.TTL)
	if err != nil {
		return 0, fmt.Errorf("delete expired idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// recorder passes the response through and keeps a copy.
type recorder struct {
	httpapi.StatusRecorder
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.StatusRecorder.Write(b)
}
