// Package idempotency remembers the outcome of requests made with an
// Idempotency-Key, so that a client can retry a POST or PATCH safely: the
// retry gets the stored response instead of running the operation twice
// (draft-ietf-httpapi-idempotency-key-header).
//
// A [Store] holds one [Record] per key. The life of a key is:
//
//  1. [Store.Begin] claims the key for a request, identified by its
//     fingerprint (a hash of what the request asks for). The record is
//     in flight; the claim holds for a lock TTL, after which a crashed
//     owner's key becomes free again.
//  2. The owner runs the operation, then either [Store.Complete]s the
//     record with the response, kept for a retention TTL, or
//     [Store.Release]s the key (the attempt failed and may be retried).
//  3. Meanwhile, and until the record expires, Begin with the same key
//     does not claim it: it returns the live record, and the caller
//     decides — replay a completed response whose fingerprint matches,
//     reject a different fingerprint, report a request still in flight.
//
// The store does not judge fingerprints or statuses; the HTTP rules live in
// the runtime/httpserver Idempotency middleware, which scopes keys per
// method, path and caller and only completes records with responses worth
// replaying.
//
// [MemoryStore] keeps records in the memory of one process; it suits tests,
// the embedded demo and single-instance services. Durable stores (SQLite,
// PostgreSQL) implement the same interface and must pass the conformance
// suite in runtime/idempotency/idempotencytest.
package idempotency

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// ErrNotFound is returned by [Store.Get] when the key has no live record.
var ErrNotFound = errors.New("idempotency record not found")

// ErrLockLost is returned by [Store.Complete] and [Store.Release] when the
// caller's claim is no longer the live in-flight record of the key: the
// key is unknown, its lock expired (and perhaps another request claimed
// it), or it was already completed or released.
var ErrLockLost = errors.New("idempotency lock lost")

// ErrFull is returned by [Store.Begin] when the store refuses to hold more
// records. The request must not run; it can be retried later.
var ErrFull = errors.New("idempotency store full")

// Store keeps idempotency records. All methods are safe for concurrent use
// by multiple goroutines and, for a durable store, by multiple processes
// sharing it.
//
// Keys are opaque non-empty strings chosen by the caller; a store may
// limit their length and must then refuse longer keys with an error, never
// truncate them. Fingerprints are opaque strings compared for equality by
// the caller.
//
// Expiry is measured with the clock of the calling process (time.Now), not
// with a database clock: a record is live until its ExpiresAt, and a
// store must treat an expired record exactly like a missing one in every
// method. Expired records may be deleted at any time.
//
// Every method honours ctx: when ctx is done before the work is done, the
// method returns an error wrapping ctx.Err() and changes nothing it has
// not committed. Errors other than the sentinel ones mean the store could
// not be reached or failed; the caller cannot know the state of the key
// and must not run the operation.
type Store interface {
	// Begin claims key for a request with the given fingerprint.
	//
	// If key has no live record, Begin atomically creates an in-flight
	// record that expires lockTTL from now and returns a Claim with
	// Acquired set, a fresh Token that Complete and Release require, and
	// the new record. Of many concurrent Begin calls for the same free
	// key, across goroutines and processes, exactly one acquires it.
	//
	// If key has a live record, Begin changes nothing and returns a Claim
	// without Acquired, holding a copy of that record (in flight or
	// completed, with its own fingerprint, which may differ from the one
	// given).
	//
	// Begin returns an error if key or fingerprint is empty, if lockTTL
	// is not positive, or [ErrFull] when the store refuses new records.
	Begin(ctx context.Context, key, fingerprint string, lockTTL time.Duration) (Claim, error)

	// Complete stores res as the outcome of the in-flight record of key
	// claimed with token, and keeps the completed record until ttl from
	// now. The store keeps its own copy of res. It returns
	// [ErrLockLost] if token does not hold the live in-flight record of
	// key; the record is then left as it is. It returns an error if ttl
	// is not positive.
	Complete(ctx context.Context, key, token string, res Response, ttl time.Duration) error

	// Release deletes the in-flight record of key claimed with token, so
	// that the next Begin acquires the key. It returns [ErrLockLost] if
	// token does not hold the live in-flight record of key; a completed
	// record is never released.
	Release(ctx context.Context, key, token string) error

	// Get returns a copy of the live record of key, in flight or
	// completed, or [ErrNotFound].
	Get(ctx context.Context, key string) (Record, error)
}

// State says where a record is in its life.
type State int

// The states of a record.
const (
	// InFlight: a request claimed the key and has not finished.
	InFlight State = iota + 1
	// Completed: the response is stored and can be replayed.
	Completed
)

// String returns "in-flight" or "completed".
func (s State) String() string {
	switch s {
	case InFlight:
		return "in-flight"
	case Completed:
		return "completed"
	}
	return "unknown"
}

// Record is what a store knows about one key.
type Record struct {
	Key         string
	Fingerprint string
	State       State
	// Response is the stored response; zero unless State is Completed.
	Response Response
	// ExpiresAt is when the record stops being live: the end of the lock
	// of an in-flight record, the end of retention of a completed one.
	ExpiresAt time.Time
}

// Response is a stored HTTP response.
type Response struct {
	Status int
	// Header holds the headers to replay; it may be nil.
	Header http.Header
	// Body is the response body; it may be empty.
	Body []byte
}

// Claim is the outcome of [Store.Begin].
type Claim struct {
	// Acquired reports whether this Begin claimed the key.
	Acquired bool
	// Token proves the claim to Complete and Release; empty unless
	// Acquired.
	Token string
	// Record is the new in-flight record when Acquired, otherwise the
	// live record that prevented the claim.
	Record Record
}

// Clone returns a deep copy of res.
func (res Response) Clone() Response {
	out := Response{Status: res.Status, Header: res.Header.Clone()}
	if res.Body != nil {
		out.Body = append([]byte{}, res.Body...)
	}
	return out
}
