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
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// Store keeps keys and responses in Postgres.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// TTL is how long a key is remembered. Default 24 hours.
	TTL time.Duration
	// LockTimeout is how long a claim stays valid without a response. A
	// claim older than that belonged to a process that died mid-request, and
	// the same request may run again. Default 2 minutes, well above any
	// request's deadline.
	LockTimeout time.Duration
	// MaxBody bounds the request body hashed. Default httpapi.DefaultMaxBody.
	MaxBody int64
	// Now defaults to time.Now.
	Now func() time.Time
}

// NewStore returns a Store with the defaults above.
func NewStore(pool *pgxpool.Pool, logger *slog.Logger) *Store {
	return &Store{pool: pool, logger: logger, TTL: 24 * time.Hour, LockTimeout: 2 * time.Minute,
		MaxBody: httpapi.DefaultMaxBody, Now: time.Now}
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
		merchantID := httpapi.MerchantID(r.Context())

		claimed, stored, err := s.claim(r.Context(), merchantID, key, hash[:])
		if err != nil {
			httpapi.WriteError(w, r, s.logger, err)
			return
		}
		if !claimed {
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(stored.status)
			_, _ = w.Write(stored.body)
			return
		}

		rec := &recorder{ResponseWriter: w}
		completed := false
		defer func() {
			// Runs on panic too: release the claim so a retry is not stuck
			// behind a request that will never answer.
			if err := s.finish(context.WithoutCancel(r.Context()), merchantID, key, rec, completed); err != nil {
				s.logger.ErrorContext(r.Context(), "store idempotent response", "request_id", httpapi.RequestID(r.Context()), "err", err)
			}
		}()
		next.ServeHTTP(rec, r)
		completed = true
	})
}

func validateKey(key string) error {
	if len(key) > 255 {
		return httpapi.Invalid("idempotency_key_invalid", "", "The Idempotency-Key header must be at most 255 characters.")
	}
	for _, c := range key {
		if c > unicode.MaxASCII || !unicode.IsPrint(c) {
			return httpapi.Invalid("idempotency_key_invalid", "", "The Idempotency-Key header must be printable ASCII.")
		}
	}
	return nil
}

type response struct {
	status int
	body   []byte
}

// claim takes the key for this request, or returns the stored response.
// A key past its TTL is taken over, as is an abandoned claim for the same
// request.
func (s *Store) claim(ctx context.Context, merchantID, key string, hash []byte) (bool, response, error) {
	// Two tries: the row we conflicted with may be deleted (its request
	// failed) between the INSERT and the SELECT.
	for range 2 {
		now := s.Now()
		tag, err := s.pool.Exec(ctx, `
			INSERT INTO idempotency_keys (merchant_id, key, request_hash, created_at, locked_until)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (merchant_id, key) DO UPDATE
				SET request_hash = EXCLUDED.request_hash, created_at = EXCLUDED.created_at,
					locked_until = EXCLUDED.locked_until, response_status = NULL, response_body = NULL
				WHERE idempotency_keys.created_at < $6
					OR (idempotency_keys.response_status IS NULL AND idempotency_keys.locked_until < $4
						AND idempotency_keys.request_hash = EXCLUDED.request_hash)`,
			merchantID, key, hash, now, now.Add(s.LockTimeout), now.Add(-s.TTL))
		if err != nil {
			return false, response{}, fmt.Errorf("claim idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return true, response{}, nil
		}
		var (
			storedHash []byte
			status     *int
			body       []byte
		)
		err = s.pool.QueryRow(ctx, `SELECT request_hash, response_status, response_body FROM idempotency_keys
			WHERE merchant_id = $1 AND key = $2`, merchantID, key).Scan(&storedHash, &status, &body)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return false, response{}, fmt.Errorf("read idempotency key: %w", err)
		}
		switch {
		case !bytes.Equal(storedHash, hash):
			return false, response{}, &httpapi.Error{Status: http.StatusUnprocessableEntity, Type: httpapi.TypeIdempotency,
				Code: "idempotency_key_reused", Message: "Keys for idempotent requests can only be used with the same " +
					"method, path and parameters as the first request. Use a new Idempotency-Key for a different request."}
		case status == nil:
			return false, response{}, &httpapi.Error{Status: http.StatusConflict, Type: httpapi.TypeIdempotency,
				Code: "idempotency_key_in_use", Message: "A request with this Idempotency-Key is still being processed. Retry shortly."}
		}
		return false, response{status: *status, body: body}, nil
	}
	return false, response{}, &httpapi.Error{Status: http.StatusConflict, Type: httpapi.TypeIdempotency,
		Code: "idempotency_key_in_use", Message: "A request with this Idempotency-Key is being retried concurrently. Retry shortly."}
}

// finish stores a final response, or releases the claim when the response
// must not be replayed (server errors, rate limits, panics).
func (s *Store) finish(ctx context.Context, merchantID, key string, rec *recorder, completed bool) error {
	status := rec.statusOrOK()
	if !completed || status >= 500 || status == http.StatusTooManyRequests {
		_, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, merchantID, key)
		return err
	}
	_, err := s.pool.Exec(ctx, `UPDATE idempotency_keys SET response_status = $3, response_body = $4, locked_until = NULL
		WHERE merchant_id = $1 AND key = $2`, merchantID, key, status, rec.body.Bytes())
	return err
}

// DeleteExpired removes keys past their TTL and returns how many.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, s.Now().Add(-s.TTL))
	if err != nil {
		return 0, fmt.Errorf("delete expired idempotency keys: %w", err)
	}
	return tag.RowsAffected(), nil
}

// recorder passes the response through and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) statusOrOK() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
