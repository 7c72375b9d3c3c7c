// Package idempotencytest is the conformance suite of idempotency.Store:
// every store (memory, SQLite, PostgreSQL, ...) must pass [Run].
//
//	func TestStore(t *testing.T) {
//		idempotencytest.Run(t, func(t *testing.T) idempotency.Store {
//			s, err := sqlite.NewStore(...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite pins the promises written in the idempotency.Store doc:
// exactly one winner among concurrent Begins of a key, tokens that only
// their owner can use, byte-exact replay of the stored response, the live
// record returned untouched to a Begin with another fingerprint, expiry of
// locks and of completed records, argument and context errors, and stores
// that keep their own copies.
//
// Expiry subtests run inside a testing/synctest bubble and call newStore
// there, so that they take no wall-clock time: the store must measure
// expiry with time.Now (as the Store doc requires) and must not share
// goroutines, channels or timers created outside the newStore call (open
// the database connection inside it). Time in the bubble starts at
// 2000-01-01 UTC.
package idempotencytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keiyaku/keiyaku/runtime/idempotency"
)

// Run runs the conformance suite against the stores newStore returns.
// newStore is called once per subtest and must return a fresh, empty
// store; it registers its own cleanup with t.Cleanup. Subtests run in
// parallel.
func Run(t *testing.T, newStore func(t *testing.T) idempotency.Store) {
	t.Helper()
	for _, tc := range []struct {
		name     string
		synctest bool
		run      func(t *testing.T, s idempotency.Store)
	}{
		{"BeginClaimsFreeKey", false, testBeginClaimsFreeKey},
		{"BeginReturnsInFlightRecord", false, testBeginReturnsInFlightRecord},
		{"ConcurrentBeginHasOneWinner", false, testConcurrentBegin},
		{"CompleteThenReplay", false, testCompleteThenReplay},
		{"ReplayEmptyResponse", false, testReplayEmptyResponse},
		{"DifferentFingerprintSeesOriginal", false, testDifferentFingerprint},
		{"ReleaseFreesKey", false, testReleaseFreesKey},
		{"TokensAreOwned", false, testTokensAreOwned},
		{"CompletedIsFinal", false, testCompletedIsFinal},
		{"GetUnknownKey", false, testGetUnknown},
		{"KeysAreIndependent", false, testKeysIndependent},
		{"LongKeysAreNotTruncated", false, testLongKeys},
		{"InvalidArguments", false, testInvalidArguments},
		{"CanceledContext", false, testCanceledContext},
		{"StoreKeepsItsOwnCopy", false, testCopies},
		{"LockExpires", true, testLockExpires},
		{"CompletedExpires", true, testCompletedExpires},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.synctest {
				synctest.Test(t, func(t *testing.T) { tc.run(t, newStore(t)) })
				return
			}
			tc.run(t, newStore(t))
		})
	}
}

const (
	lockTTL = time.Minute
	ttl     = time.Hour
)

func sampleResponse() idempotency.Response {
	return idempotency.Response{
		Status: http.StatusCreated,
		Header: http.Header{
			"Content-Type": {"application/json"},
			"Location":     {"/rooms/7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d/holds/1"},
			"X-Multi":      {"a", "b, c"},
		},
		// Not valid UTF-8, with a NUL: stores must keep bytes, not text.
		Body: []byte("{\"id\":1}\x00\xff\xfe\n"),
	}
}

func mustBegin(t *testing.T, s idempotency.Store, key, fp string) idempotency.Claim {
	t.Helper()
	c, err := s.Begin(t.Context(), key, fp, lockTTL)
	if err != nil {
		t.Fatalf("Begin(%q, %q): %v", key, fp, err)
	}
	return c
}

func mustAcquire(t *testing.T, s idempotency.Store, key, fp string) idempotency.Claim {
	t.Helper()
	c := mustBegin(t, s, key, fp)
	if !c.Acquired {
		t.Fatalf("Begin(%q, %q) did not acquire a free key; record %+v", key, fp, c.Record)
	}
	return c
}

func mustComplete(t *testing.T, s idempotency.Store, key, token string, res idempotency.Response) {
	t.Helper()
	if err := s.Complete(t.Context(), key, token, res, ttl); err != nil {
		t.Fatalf("Complete(%q): %v", key, err)
	}
}

func checkRefused(t *testing.T, c idempotency.Claim, key, fp string, state idempotency.State) {
	t.Helper()
	if c.Acquired {
		t.Fatalf("Begin(%q) acquired a key with a live record", key)
	}
	if c.Token != "" {
		t.Errorf("refused claim carries token %q, want empty", c.Token)
	}
	if c.Record.Key != key || c.Record.Fingerprint != fp || c.Record.State != state {
		t.Errorf("refused claim record = key %q fingerprint %q state %v, want %q %q %v",
			c.Record.Key, c.Record.Fingerprint, c.Record.State, key, fp, state)
	}
}

// equalResponse compares responses byte for byte; a nil and an empty
// header or body are equal.
func equalResponse(got, want idempotency.Response) error {
	if got.Status != want.Status {
		return fmt.Errorf("status %d, want %d", got.Status, want.Status)
	}
	if !bytes.Equal(got.Body, want.Body) {
		return fmt.Errorf("body %q, want %q", got.Body, want.Body)
	}
	if len(got.Header) != len(want.Header) || !maps.EqualFunc(got.Header, want.Header, slices.Equal) {
		return fmt.Errorf("header %v, want %v", got.Header, want.Header)
	}
	return nil
}

// testBeginClaimsFreeKey pins that Begin on a free key claims it with a
// token and an in-flight record expiring lockTTL from now.
func testBeginClaimsFreeKey(t *testing.T, s idempotency.Store) {
	before := time.Now()
	c := mustAcquire(t, s, "k", "fp")
	after := time.Now()
	if c.Token == "" {
		t.Error("acquired claim has an empty token")
	}
	r := c.Record
	if r.Key != "k" || r.Fingerprint != "fp" || r.State != idempotency.InFlight {
		t.Errorf("record = %+v, want key k, fingerprint fp, in flight", r)
	}
	// A second of slack for stores that round timestamps.
	if r.ExpiresAt.Before(before.Add(lockTTL-time.Second)) || r.ExpiresAt.After(after.Add(lockTTL+time.Second)) {
		t.Errorf("ExpiresAt = %v, want about %v", r.ExpiresAt, before.Add(lockTTL))
	}
	got, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.State != idempotency.InFlight || got.Fingerprint != "fp" {
		t.Errorf("Get = %+v, want the in-flight record", got)
	}
}

// testBeginReturnsInFlightRecord pins that a second Begin of a key in
// flight does not claim it and sees the first request's record.
func testBeginReturnsInFlightRecord(t *testing.T, s idempotency.Store) {
	mustAcquire(t, s, "k", "fp1")
	checkRefused(t, mustBegin(t, s, "k", "fp1"), "k", "fp1", idempotency.InFlight)
	checkRefused(t, mustBegin(t, s, "k", "fp2"), "k", "fp1", idempotency.InFlight)
}

// testConcurrentBegin pins that of many concurrent Begins of one key
// exactly one wins, and every loser sees the winner's record.
func testConcurrentBegin(t *testing.T, s idempotency.Store) {
	const n = 16
	claims := make([]idempotency.Claim, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			claims[i], errs[i] = s.Begin(t.Context(), "race", fmt.Sprintf("fp%d", i), lockTTL)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Begin #%d: %v", i, errs[i])
		}
		if claims[i].Acquired {
			if winner >= 0 {
				t.Fatalf("Begin #%d and #%d both acquired the key", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no Begin acquired the free key")
	}
	want := fmt.Sprintf("fp%d", winner)
	for i := range n {
		if i != winner {
			checkRefused(t, claims[i], "race", want, idempotency.InFlight)
		}
	}
}

// testCompleteThenReplay pins that a completed response comes back byte
// for byte (status, every header value, binary body) from Get and Begin.
func testCompleteThenReplay(t *testing.T, s idempotency.Store) {
	c := mustAcquire(t, s, "k", "fp")
	want := sampleResponse()
	before := time.Now()
	mustComplete(t, s, "k", c.Token, want)
	got, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.State != idempotency.Completed || got.Fingerprint != "fp" {
		t.Errorf("Get = state %v fingerprint %q, want completed fp", got.State, got.Fingerprint)
	}
	if err := equalResponse(got.Response, want); err != nil {
		t.Errorf("Get response: %v", err)
	}
	if got.ExpiresAt.Before(before.Add(ttl - time.Second)) {
		t.Errorf("completed ExpiresAt = %v, want about %v (the retention ttl, not the lock ttl)", got.ExpiresAt, before.Add(ttl))
	}
	again := mustBegin(t, s, "k", "fp")
	checkRefused(t, again, "k", "fp", idempotency.Completed)
	if err := equalResponse(again.Record.Response, want); err != nil {
		t.Errorf("replayed response: %v", err)
	}
}

// testReplayEmptyResponse pins that a response without headers or body
// (a 204) is stored and replayed as such.
func testReplayEmptyResponse(t *testing.T, s idempotency.Store) {
	c := mustAcquire(t, s, "k", "fp")
	want := idempotency.Response{Status: http.StatusNoContent}
	mustComplete(t, s, "k", c.Token, want)
	again := mustBegin(t, s, "k", "fp")
	checkRefused(t, again, "k", "fp", idempotency.Completed)
	if err := equalResponse(again.Record.Response, want); err != nil {
		t.Errorf("replayed response: %v", err)
	}
}

// testDifferentFingerprint pins that Begin with another fingerprint on a
// completed key neither claims nor changes it, and shows the original
// fingerprint so that the caller can reject the reuse.
func testDifferentFingerprint(t *testing.T, s idempotency.Store) {
	c := mustAcquire(t, s, "k", "fp1")
	mustComplete(t, s, "k", c.Token, sampleResponse())
	checkRefused(t, mustBegin(t, s, "k", "fp2"), "k", "fp1", idempotency.Completed)
	got, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.Fingerprint != "fp1" {
		t.Errorf("fingerprint after a refused Begin = %q, want fp1", got.Fingerprint)
	}
	if err := equalResponse(got.Response, sampleResponse()); err != nil {
		t.Errorf("response after a refused Begin: %v", err)
	}
}

// testReleaseFreesKey pins that a released key is free: Get finds
// nothing and the next Begin acquires it with a new token.
func testReleaseFreesKey(t *testing.T, s idempotency.Store) {
	c := mustAcquire(t, s, "k", "fp")
	if err := s.Release(t.Context(), "k", c.Token); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := s.Get(t.Context(), "k"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Errorf("Get after Release: err = %v, want ErrNotFound", err)
	}
	c2 := mustAcquire(t, s, "k", "fp2")
	if c2.Token == c.Token {
		t.Errorf("new claim reuses the released token %q", c.Token)
	}
	if err := s.Release(t.Context(), "k", c.Token); !errors.Is(err, idempotency.ErrLockLost) {
		t.Errorf("Release with the old token: err = %v, want ErrLockLost", err)
	}
}

// testTokensAreOwned pins that Complete and Release with a wrong token or
// on an unknown key fail with ErrLockLost and leave the record alone.
func testTokensAreOwned(t *testing.T, s idempotency.Store) {
	c := mustAcquire(t, s, "k", "fp")
	for _, tc := range []struct {
		key, token string
	}{
		{"k", c.Token + "x"},
		{"k", ""},
		{"unknown", c.Token},
	} {
		if err := s.Complete(t.Context(), tc.key, tc.token, sampleResponse(), ttl); !errors.Is(err, idempotency.ErrLockLost) {
			t.Errorf("Complete(%q, %q): err = %v, want ErrLockLost", tc.key, tc.token, err)
		}
		if err := s.Release(t.Context(), tc.key, tc.token); !errors.Is(err, idempotency.ErrLockLost) {
			t.Errorf("Release(%q, %q): err = %v, want ErrLockLost", tc.key, tc.token, err)
		}
	}
	got, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.State != idempotency.InFlight {
		t.Errorf("state after wrong tokens = %v, want in flight", got.State)
	}
	mustComplete(t, s, "k", c.Token, sampleResponse())
}

// testCompletedIsFinal pins that a completed record can be neither
// completed again nor released: the first response stays.
func testCompletedIsFinal(t *testing.T, s idempotency.Store) {
	c := mustAcquire(t, s, "k", "fp")
	mustComplete(t, s, "k", c.Token, sampleResponse())
	other := idempotency.Response{Status: http.StatusConflict, Body: []byte("second")}
	if err := s.Complete(t.Context(), "k", c.Token, other, ttl); !errors.Is(err, idempotency.ErrLockLost) {
		t.Errorf("second Complete: err = %v, want ErrLockLost", err)
	}
	if err := s.Release(t.Context(), "k", c.Token); !errors.Is(err, idempotency.ErrLockLost) {
		t.Errorf("Release of a completed record: err = %v, want ErrLockLost", err)
	}
	got, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if err := equalResponse(got.Response, sampleResponse()); err != nil {
		t.Errorf("response after a second Complete: %v", err)
	}
}

// testGetUnknown pins ErrNotFound for a key never seen.
func testGetUnknown(t *testing.T, s idempotency.Store) {
	if _, err := s.Get(t.Context(), "never"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Errorf("Get: err = %v, want ErrNotFound", err)
	}
}

// testKeysIndependent pins that keys do not see each other, including
// keys that differ only in case, spacing or non-ASCII letters.
func testKeysIndependent(t *testing.T, s idempotency.Store) {
	keys := []string{"POST /a k1", "POST /a K1", "POST /a k1 ", "POST /b k1", "POST /a ключ", "POST /a 鍵"}
	claims := make([]idempotency.Claim, len(keys))
	for i, k := range keys {
		claims[i] = mustAcquire(t, s, k, "fp")
	}
	mustComplete(t, s, keys[0], claims[0].Token, sampleResponse())
	for i, k := range keys[1:] {
		got, err := s.Get(t.Context(), k)
		if err != nil {
			t.Fatalf("Get(%q): %v", k, err)
		}
		if got.Key != k || got.State != idempotency.InFlight {
			t.Errorf("Get(%q) = key %q state %v, want its own in-flight record", k, got.Key, got.State)
		}
		if err := s.Release(t.Context(), k, claims[i+1].Token); err != nil {
			t.Errorf("Release(%q): %v", k, err)
		}
	}
}

// testLongKeys pins that a store either refuses a key it cannot hold or
// keeps it whole: two long keys differing in the last byte never collide.
func testLongKeys(t *testing.T, s idempotency.Store) {
	prefix := strings.Repeat("k", 1000)
	c, err := s.Begin(t.Context(), prefix+"1", "fp1", lockTTL)
	if err != nil {
		t.Skipf("store refuses 1001-byte keys: %v", err)
	}
	if !c.Acquired {
		t.Fatal("Begin did not acquire a free long key")
	}
	c2, err := s.Begin(t.Context(), prefix+"2", "fp2", lockTTL)
	if err != nil {
		t.Fatalf("Begin of a second long key: %v", err)
	}
	if !c2.Acquired {
		t.Errorf("long keys collide: the second got record %q/%q", c2.Record.Key[len(prefix):], c2.Record.Fingerprint)
	}
}

// testInvalidArguments pins clear errors for empty keys and fingerprints
// and non-positive TTLs, with nothing stored.
func testInvalidArguments(t *testing.T, s idempotency.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		key, fp string
		ttl     time.Duration
	}{
		{"empty key", "", "fp", lockTTL},
		{"empty fingerprint", "k", "", lockTTL},
		{"zero lock ttl", "k", "fp", 0},
		{"negative lock ttl", "k", "fp", -time.Second},
	} {
		c, err := s.Begin(ctx, tc.key, tc.fp, tc.ttl)
		if err == nil || c.Acquired {
			t.Errorf("Begin with %s: claim %+v, err %v; want an error", tc.name, c, err)
		}
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Errorf("Get after refused Begins: err = %v, want ErrNotFound", err)
	}
	c := mustAcquire(t, s, "k", "fp")
	for _, d := range []time.Duration{0, -time.Second} {
		if err := s.Complete(ctx, "k", c.Token, sampleResponse(), d); err == nil {
			t.Errorf("Complete with ttl %v: no error", d)
		}
	}
	got, err := s.Get(ctx, "k")
	if err != nil || got.State != idempotency.InFlight {
		t.Errorf("after refused Completes: record %+v, err %v; want still in flight", got, err)
	}
}

// testCanceledContext pins that every method reports a done context,
// wrapping ctx.Err(), and a canceled Begin claims nothing.
func testCanceledContext(t *testing.T, s idempotency.Store) {
	c := mustAcquire(t, s, "k", "fp")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Begin(ctx, "other", "fp", lockTTL); !errors.Is(err, context.Canceled) {
		t.Errorf("Begin: err = %v, want context.Canceled", err)
	}
	if err := s.Complete(ctx, "k", c.Token, sampleResponse(), ttl); !errors.Is(err, context.Canceled) {
		t.Errorf("Complete: err = %v, want context.Canceled", err)
	}
	if err := s.Release(ctx, "k", c.Token); !errors.Is(err, context.Canceled) {
		t.Errorf("Release: err = %v, want context.Canceled", err)
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get: err = %v, want context.Canceled", err)
	}
	if _, err := s.Get(t.Context(), "other"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Errorf("a canceled Begin left a record: Get err = %v, want ErrNotFound", err)
	}
	got, err := s.Get(t.Context(), "k")
	if err != nil || got.State != idempotency.InFlight {
		t.Errorf("a canceled Complete or Release changed the record: %+v, err %v", got, err)
	}
}

// testCopies pins that the store is not aliased with its callers: changing
// the response given to Complete, or a record returned, changes nothing
// stored.
func testCopies(t *testing.T, s idempotency.Store) {
	c := mustAcquire(t, s, "k", "fp")
	res := sampleResponse()
	mustComplete(t, s, "k", c.Token, res)
	res.Header.Set("Content-Type", "text/plain")
	res.Body[0] = 'X'
	got, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if err := equalResponse(got.Response, sampleResponse()); err != nil {
		t.Fatalf("changing the completed response changed the store: %v", err)
	}
	got.Response.Header.Set("Content-Type", "text/plain")
	got.Response.Body[0] = 'Y'
	again, err := s.Get(t.Context(), "k")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if err := equalResponse(again.Response, sampleResponse()); err != nil {
		t.Errorf("changing a returned record changed the store: %v", err)
	}
}

// testLockExpires pins that an in-flight lock holds until lockTTL and then
// frees the key: a new Begin acquires it and the old token is dead.
func testLockExpires(t *testing.T, s idempotency.Store) {
	old := mustAcquire(t, s, "k", "fp1")
	time.Sleep(lockTTL - time.Second)
	checkRefused(t, mustBegin(t, s, "k", "fp2"), "k", "fp1", idempotency.InFlight)
	time.Sleep(2 * time.Second)
	if _, err := s.Get(t.Context(), "k"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Errorf("Get after the lock expired: err = %v, want ErrNotFound", err)
	}
	if err := s.Complete(t.Context(), "k", old.Token, sampleResponse(), ttl); !errors.Is(err, idempotency.ErrLockLost) {
		t.Errorf("Complete with an expired lock: err = %v, want ErrLockLost", err)
	}
	if err := s.Release(t.Context(), "k", old.Token); !errors.Is(err, idempotency.ErrLockLost) {
		t.Errorf("Release with an expired lock: err = %v, want ErrLockLost", err)
	}
	renewed := mustAcquire(t, s, "k", "fp2")
	if err := s.Complete(t.Context(), "k", old.Token, sampleResponse(), ttl); !errors.Is(err, idempotency.ErrLockLost) {
		t.Errorf("Complete with the token of an expired lock over a new claim: err = %v, want ErrLockLost", err)
	}
	mustComplete(t, s, "k", renewed.Token, sampleResponse())
	got, err := s.Get(t.Context(), "k")
	if err != nil || got.Fingerprint != "fp2" || got.State != idempotency.Completed {
		t.Errorf("Get = %+v, err %v; want the new claim completed", got, err)
	}
}

// testCompletedExpires pins that a completed record replays until its
// retention ttl and is gone after it.
func testCompletedExpires(t *testing.T, s idempotency.Store) {
	c := mustAcquire(t, s, "k", "fp")
	mustComplete(t, s, "k", c.Token, sampleResponse())
	time.Sleep(ttl - time.Second)
	checkRefused(t, mustBegin(t, s, "k", "fp"), "k", "fp", idempotency.Completed)
	time.Sleep(2 * time.Second)
	if _, err := s.Get(t.Context(), "k"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Errorf("Get after retention: err = %v, want ErrNotFound", err)
	}
	next := mustAcquire(t, s, "k", "fp2")
	if next.Record.Fingerprint != "fp2" {
		t.Errorf("new claim fingerprint = %q, want fp2", next.Record.Fingerprint)
	}
}
