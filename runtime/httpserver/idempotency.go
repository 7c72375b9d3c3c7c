package httpserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/keiyaku/keiyaku/runtime/idempotency"
	"github.com/keiyaku/keiyaku/runtime/problem"
)

// IdempotencyKeyHeader is the request header that carries an idempotency
// key.
const IdempotencyKeyHeader = "Idempotency-Key"

// ReplayedHeader is set to "true" on a response replayed from the store.
const ReplayedHeader = "Idempotent-Replayed"

// maxKeyLen bounds the Idempotency-Key value.
const maxKeyLen = 255

// IdempotencyOption configures [Idempotency].
type IdempotencyOption func(*idempotencyConfig)

type idempotencyConfig struct {
	retention  time.Duration
	lockTTL    time.Duration
	maxRunning time.Duration
	maxBody    int64
	headers    []string
	logger     *slog.Logger
	caller     func(*http.Request) string
}

// AuthorizationIdentity is the default caller identity of [Idempotency]:
// the request's Authorization header, or "" without one.
func AuthorizationIdentity(r *http.Request) string { return r.Header.Get("Authorization") }

// WithCallerIdentity sets the function that names the caller of a request,
// overriding the default [AuthorizationIdentity]. Keys are scoped per
// caller: two callers sending the same Idempotency-Key value name two
// different requests, and neither is ever replayed the other's response.
// The identity is hashed (SHA-256) before it is part of a store key, so a
// credential is never stored; "" means an anonymous caller, scoped by
// method, path and key only. Use it for a caller identity the server
// derives, e.g. the subject of a verified token or a client certificate.
func WithCallerIdentity(fn func(r *http.Request) string) IdempotencyOption {
	return func(c *idempotencyConfig) { c.caller = fn }
}

// WithMaxRequestDuration sets how long a request can run at most,
// overriding the default 30s (the WriteTimeout of [New]). A key in flight
// for longer belongs to a request that crashed: a duplicate is then told,
// in Retry-After, the time left until the key's lock expires rather than
// to come back in a second. It must be positive.
func WithMaxRequestDuration(d time.Duration) IdempotencyOption {
	return func(c *idempotencyConfig) { c.maxRunning = d }
}

// WithRetention sets how long a completed response is replayed, overriding
// the default 24h. It must be positive.
func WithRetention(d time.Duration) IdempotencyOption {
	return func(c *idempotencyConfig) { c.retention = d }
}

// WithLockTTL sets how long a request holds its key while it runs,
// overriding the default 1m. After it, the key is free again even if the
// request has not finished, so that a crashed instance does not block it
// forever: keep it longer than the slowest request (and the server's
// write timeout). It must be positive.
func WithLockTTL(d time.Duration) IdempotencyOption {
	return func(c *idempotencyConfig) { c.lockTTL = d }
}

// WithMaxIdempotentBody bounds both the request body read to fingerprint
// a request (a larger one is answered 413) and the response body stored
// for replay (a larger response is sent but not stored, and the key is
// released), overriding the default 1 MiB. It must be positive.
func WithMaxIdempotentBody(n int64) IdempotencyOption {
	return func(c *idempotencyConfig) { c.maxBody = n }
}

// WithReplayHeaders sets the response headers stored and replayed with
// the status and body, overriding the default Content-Type,
// Content-Language, Content-Location, Location, ETag and Last-Modified.
func WithReplayHeaders(names ...string) IdempotencyOption {
	return func(c *idempotencyConfig) { c.headers = append([]string(nil), names...) }
}

// WithIdempotencyLogger sets the logger for store failures, overriding the
// default that discards everything.
func WithIdempotencyLogger(l *slog.Logger) IdempotencyOption {
	return func(c *idempotencyConfig) { c.logger = l }
}

// Idempotency returns a middleware that makes POST and PATCH requests
// carrying an Idempotency-Key header safe to retry, following
// draft-ietf-httpapi-idempotency-key-header:
//
//   - The first request with a key runs, and its response is stored in
//     store: status, the replay headers (see [WithReplayHeaders]) and
//     body.
//   - A later request with the same key and the same fingerprint — a
//     SHA-256 of method, path, query and body — does not run: the stored
//     response is replayed, with the header Idempotent-Replayed: true.
//   - The same key with a different body (or query) is answered 422
//     Unprocessable Entity.
//   - The same key while the first request still runs is answered 409
//     Conflict, with Retry-After: 1 while the first request may still be
//     running (see [WithMaxRequestDuration]) and, once it cannot be — its
//     server crashed mid-request — the seconds left until the key's lock
//     expires (see [WithLockTTL]).
//
// A key is scoped per route and per caller: the store key is the method,
// the request path, a hash of the caller's identity (see
// [WithCallerIdentity]; by default the Authorization header) and the
// Idempotency-Key value, so the same value on two paths, or from two
// callers, names two different requests.
//
// Only outcomes worth replaying are stored: 2xx, and 4xx except 408
// Request Timeout and 429 Too Many Requests. After any other status, a
// panic in the next handler, or a response body larger than the limit (see
// [WithMaxIdempotentBody]), the key is released so the client can retry
// the operation. If the store cannot be reached (or is full) the request
// does not run and is answered 503 Service Unavailable, which a client may
// retry; store failures after the response was sent are logged.
//
// Requests with another method, or without the header, pass through
// untouched: whether the header is required is the contract's business
// ([Validator]). A key that is empty, longer than 255 bytes, holds
// control characters, or is sent twice is answered 400. The request body
// is read into memory, up to the limit.
//
// Idempotency returns an error if store is nil or an option is out of
// range. The middleware is safe for concurrent use.
func Idempotency(store idempotency.Store, opts ...IdempotencyOption) (func(http.Handler) http.Handler, error) {
	if store == nil {
		return nil, errors.New("httpserver: idempotency: nil store")
	}
	cfg := idempotencyConfig{
		retention:  24 * time.Hour,
		lockTTL:    time.Minute,
		maxRunning: defaultWriteTimeout,
		maxBody:    1 << 20,
		caller:     AuthorizationIdentity,
		headers:    []string{"Content-Type", "Content-Language", "Content-Location", "Location", "ETag", "Last-Modified"},
	}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.retention <= 0:
		return nil, fmt.Errorf("httpserver: idempotency: retention %v is not positive", cfg.retention)
	case cfg.lockTTL <= 0:
		return nil, fmt.Errorf("httpserver: idempotency: lock ttl %v is not positive", cfg.lockTTL)
	case cfg.maxRunning <= 0:
		return nil, fmt.Errorf("httpserver: idempotency: max request duration %v is not positive", cfg.maxRunning)
	case cfg.caller == nil:
		return nil, errors.New("httpserver: idempotency: nil caller identity function")
	case cfg.maxBody <= 0:
		return nil, fmt.Errorf("httpserver: idempotency: max body %d is not positive", cfg.maxBody)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return &idempotent{cfg: cfg, store: store, next: next}
	}, nil
}

type idempotent struct {
	cfg   idempotencyConfig
	store idempotency.Store
	next  http.Handler
}

func (m *idempotent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPatch {
		m.next.ServeHTTP(w, r)
		return
	}
	values := r.Header.Values(IdempotencyKeyHeader)
	if len(values) == 0 {
		m.next.ServeHTTP(w, r)
		return
	}
	if reason := badKey(values); reason != "" {
		m.writeProblem(w, r, problem.BadRequest("invalid Idempotency-Key", problem.FieldError{Field: "header." + IdempotencyKeyHeader, Reason: reason}))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, m.cfg.maxBody+1))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		m.writeProblem(w, r, problem.TooLarge(fmt.Sprintf("the request body is larger than %d bytes", tooLarge.Limit)))
		return
	case err != nil:
		m.writeProblem(w, r, problem.BadRequest("the request body cannot be read", problem.FieldError{Field: "body", Reason: "cannot be read"}))
		return
	case int64(len(body)) > m.cfg.maxBody:
		m.writeProblem(w, r, problem.TooLarge(fmt.Sprintf("the request body is larger than %d bytes, the limit for idempotent requests", m.cfg.maxBody)))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }

	key := r.Method + " " + r.URL.EscapedPath() + " " + values[0]
	if id := m.cfg.caller(r); id != "" {
		sum := sha256.Sum256([]byte(id))
		key = r.Method + " " + r.URL.EscapedPath() + " caller:" + hex.EncodeToString(sum[:]) + " " + values[0]
	}
	fp := fingerprint(r, body)
	claim, err := m.store.Begin(r.Context(), key, fp, m.cfg.lockTTL)
	if err != nil {
		m.cfg.logger.ErrorContext(r.Context(), "idempotency store: begin failed", "key", key, "error", err)
		m.writeProblem(w, r, problem.Unavailable("the idempotency store is unavailable; retry later"))
		return
	}
	if !claim.Acquired {
		m.answerExisting(w, r, claim.Record, fp)
		return
	}

	cw := &capturingWriter{trackingWriter: trackingWriter{ResponseWriter: w}, keep: m.cfg.headers, limit: int(m.cfg.maxBody)}
	finished := false
	defer func() {
		if !finished { // the next handler panicked: let the client retry
			m.release(r, key, claim.Token, "panic")
		}
	}()
	m.next.ServeHTTP(cw, r)
	finished = true

	status := cw.status
	if !cw.wrote {
		status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	switch {
	case !storable(status):
		m.release(r, key, claim.Token, "status "+strconv.Itoa(status))
	case cw.overflow:
		m.release(r, key, claim.Token, "response body over the limit")
	default:
		res := idempotency.Response{Status: status, Header: cw.header, Body: cw.body.Bytes()}
		if err := m.store.Complete(context.WithoutCancel(r.Context()), key, claim.Token, res, m.cfg.retention); err != nil {
			m.cfg.logger.ErrorContext(r.Context(), "idempotency store: complete failed; the key stays locked until its lock expires", "key", key, "error", err)
		}
	}
}

// answerExisting answers a request whose key has a live record.
func (m *idempotent) answerExisting(w http.ResponseWriter, r *http.Request, rec idempotency.Record, fp string) {
	switch {
	case rec.Fingerprint != fp:
		m.writeProblem(w, r, problem.Unprocessable("the Idempotency-Key was already used for a different request",
			problem.FieldError{Field: "header." + IdempotencyKeyHeader, Reason: "was already used with a different request body"}))
	case rec.State != idempotency.Completed:
		w.Header().Set("Retry-After", strconv.Itoa(m.retryAfter(rec.ExpiresAt, time.Now())))
		m.writeProblem(w, r, problem.Conflict("a request with this Idempotency-Key is still being processed"))
	default:
		h := w.Header()
		for k, vs := range rec.Response.Header {
			h[k] = append([]string(nil), vs...)
		}
		h.Set(ReplayedHeader, "true")
		h.Set("Content-Length", strconv.Itoa(len(rec.Response.Body)))
		w.WriteHeader(rec.Response.Status)
		_, _ = w.Write(rec.Response.Body)
	}
}

// retryAfter is the Retry-After, in seconds, for a duplicate of a request
// whose lock expires at expires: 1 while the first request may still be
// running, else the seconds left until the lock expires, rounded up.
func (m *idempotent) retryAfter(expires, now time.Time) int {
	left := expires.Sub(now)
	running := m.cfg.lockTTL - left // how long ago the key was claimed
	if running < m.cfg.maxRunning || left <= time.Second {
		return 1
	}
	return int((left + time.Second - 1) / time.Second)
}

func (m *idempotent) release(r *http.Request, key, token, why string) {
	if err := m.store.Release(context.WithoutCancel(r.Context()), key, token); err != nil {
		m.cfg.logger.ErrorContext(r.Context(), "idempotency store: release failed; the key stays locked until its lock expires", "key", key, "reason", why, "error", err)
	}
}

func (m *idempotent) writeProblem(w http.ResponseWriter, r *http.Request, p *problem.Problem) {
	p.Instance = r.URL.EscapedPath()
	problem.Write(w, p)
}

// badKey says why the Idempotency-Key values are unusable, or "".
func badKey(values []string) string {
	if len(values) > 1 {
		return "must be sent once"
	}
	k := values[0]
	if k == "" {
		return "must not be empty"
	}
	if len(k) > maxKeyLen {
		return fmt.Sprintf("must be at most %d bytes", maxKeyLen)
	}
	for i := range len(k) {
		if c := k[i]; c < 0x20 || c == 0x7f {
			return "must not contain control characters"
		}
	}
	return ""
}

// storable reports whether a response with status is replayed to retries.
func storable(status int) bool {
	switch {
	case status >= 200 && status < 300:
		return true
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		return false
	default:
		return status >= 400 && status < 500
	}
}

// fingerprint hashes what the request asks for: method, path, query, body.
func fingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	for _, part := range []string{r.Method, r.URL.EscapedPath(), r.URL.RawQuery} {
		_, _ = io.WriteString(h, strconv.Itoa(len(part)))
		_, _ = io.WriteString(h, ":")
		_, _ = io.WriteString(h, part)
	}
	_, _ = h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
