package httpserver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/idempotency"
)

// TestIdempotencyReplay pins that a retry with the same key and body gets
// the first response — status, headers, body byte for byte — marked
// Idempotent-Replayed, without running the operation again.
func TestIdempotencyReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureConfig{})
	first := postHold(t, f, knownRoom, "key-replay-1", validHold)
	if first.status != http.StatusCreated {
		t.Fatalf("first: status %d, body %s", first.status, first.body)
	}
	if first.header.Get(httpserver.ReplayedHeader) != "" {
		t.Error("first response is marked replayed")
	}
	for range 2 {
		again := postHold(t, f, knownRoom, "key-replay-1", validHold)
		if again.status != first.status || !bytes.Equal(again.body, first.body) {
			t.Errorf("replay = %d %s, want %d %s", again.status, again.body, first.status, first.body)
		}
		if got := again.header.Get(httpserver.ReplayedHeader); got != "true" {
			t.Errorf("%s = %q, want true", httpserver.ReplayedHeader, got)
		}
		if got, want := again.header.Get("Content-Type"), first.header.Get("Content-Type"); got != want {
			t.Errorf("replayed Content-Type = %q, want %q", got, want)
		}
	}
	if n := f.svc.creates.Load(); n != 1 {
		t.Errorf("operation ran %d times, want 1", n)
	}
}

// TestIdempotencyOutcomes pins which outcomes are stored: 2xx and 4xx are
// replayed to a retry, a 5xx, a panic or an oversized response frees the
// key so that the retry runs the operation again.
func TestIdempotencyOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		room     string
		body     string
		status   int
		replayed bool
	}{
		{"201 is replayed", knownRoom, validHold, 201, true},
		{"404 from the service is replayed", missingRoom, validHold, 404, true},
		{"409 business conflict is replayed", busyRoom, validHold, 409, true},
		{"422 business rule is replayed", knownRoom, holdBody(reservation, "2025-07-04", "2025-07-01"), 422, true},
		{"500 is not stored", knownRoom, holdBody(failingResv, "2025-07-01", "2025-07-04"), 500, false},
		{"response over the limit is not stored", knownRoom, holdBody(hugeResv, "2025-07-01", "2025-07-04"), 201, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureConfig{unchecked: true})
			first := postHold(t, f, tc.room, "key-outcome", tc.body)
			second := postHold(t, f, tc.room, "key-outcome", tc.body)
			if first.status != tc.status || second.status != tc.status {
				t.Fatalf("statuses %d then %d, want %d twice; bodies %.200s / %.200s", first.status, second.status, tc.status, first.body, second.body)
			}
			replayed := second.header.Get(httpserver.ReplayedHeader) == "true"
			runs := f.svc.creates.Load()
			if replayed != tc.replayed || (tc.replayed && runs != 1) || (!tc.replayed && runs != 2) {
				t.Errorf("replayed = %v with %d runs, want replayed = %v", replayed, runs, tc.replayed)
			}
			if !bytes.Equal(first.body, second.body) {
				t.Errorf("bodies differ:\n%.300s\n%.300s", first.body, second.body)
			}
		})
	}
}

// TestIdempotencyPanicFreesKey pins that a panic in the operation does not
// leave the key locked: the client's retry runs it again.
func TestIdempotencyPanicFreesKey(t *testing.T) {
	t.Parallel()
	store, err := idempotency.NewMemoryStore()
	if err != nil {
		t.Fatal(err)
	}
	idem, err := httpserver.Idempotency(store)
	if err != nil {
		t.Fatal(err)
	}
	var runs int
	var mu sync.Mutex
	h := idem(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		runs++
		n := runs
		mu.Unlock()
		if n == 1 {
			panic("first attempt fails")
		}
		w.WriteHeader(http.StatusCreated)
	}))
	srv, err := httpserver.New(h)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	for i, want := range []int{500, 201, 201} {
		res := do(t, http.MethodPost, ts.URL+"/x", http.Header{"Idempotency-Key": {"key-panic"}}, strings.NewReader("{}"))
		if res.status != want {
			t.Errorf("attempt %d: status %d, want %d", i+1, res.status, want)
		}
	}
	if runs != 2 {
		t.Errorf("handler ran %d times, want 2 (the panic, then one success replayed)", runs)
	}
}

// TestIdempotencyMismatch pins that reusing a key for a different request
// body is refused with 422 naming the header, and the operation does not
// run.
func TestIdempotencyMismatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureConfig{})
	if res := postHold(t, f, knownRoom, "key-mismatch", validHold); res.status != 201 {
		t.Fatalf("first: status %d, body %s", res.status, res.body)
	}
	res := postHold(t, f, knownRoom, "key-mismatch", holdBody(reservation, "2025-07-01", "2025-07-05"))
	if res.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422; body %s", res.status, res.body)
	}
	if p := res.problem(t); !hasField(p, "header.Idempotency-Key") {
		t.Errorf("errors %+v do not name header.Idempotency-Key", p.Errors)
	}
	if n := f.svc.creates.Load(); n != 1 {
		t.Errorf("operation ran %d times, want 1", n)
	}
}

// TestIdempotencyScopedPerRoute pins that the same key on two paths names
// two requests: both run, neither is a replay or a mismatch.
func TestIdempotencyScopedPerRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureConfig{})
	for _, room := range []string{knownRoom, otherRoom} {
		res := postHold(t, f, room, "key-shared", validHold)
		if res.status != 201 || res.header.Get(httpserver.ReplayedHeader) != "" {
			t.Errorf("room %s: status %d, replayed %q; want a fresh 201", room, res.status, res.header.Get(httpserver.ReplayedHeader))
		}
	}
	if n := f.svc.creates.Load(); n != 2 {
		t.Errorf("operation ran %d times, want 2", n)
	}
}

// TestIdempotencyConcurrent pins the answers while the first request with
// a key is still running: 409 with Retry-After for the same body, 422 for
// another; once it finishes, the retry gets its response replayed.
func TestIdempotencyConcurrent(t *testing.T) {
	t.Parallel()
	svc := &roomService{entered: make(chan struct{}), release: make(chan struct{})}
	f := newFixture(t, fixtureConfig{svc: svc})
	firstDone := make(chan response, 1)
	go func() { firstDone <- goPost(t.Context(), f, knownRoom, "key-concurrent", validHold) }()
	<-svc.entered // the first request holds the key

	dup := postHold(t, f, knownRoom, "key-concurrent", validHold)
	if dup.status != http.StatusConflict {
		t.Fatalf("duplicate in flight: status %d, want 409; body %s", dup.status, dup.body)
	}
	dup.problem(t)
	if got := dup.header.Get("Retry-After"); got == "" {
		t.Error("409 without Retry-After")
	}
	other := postHold(t, f, knownRoom, "key-concurrent", holdBody(reservation, "2025-08-01", "2025-08-04"))
	if other.status != http.StatusUnprocessableEntity {
		t.Errorf("different body in flight: status %d, want 422", other.status)
	}

	close(svc.release)
	first := <-firstDone
	if first.status != http.StatusCreated {
		t.Fatalf("first: status %d, body %s", first.status, first.body)
	}
	again := postHold(t, f, knownRoom, "key-concurrent", validHold)
	if again.status != 201 || again.header.Get(httpserver.ReplayedHeader) != "true" || !bytes.Equal(again.body, first.body) {
		t.Errorf("retry after completion = %d replayed %q %s; want the first response replayed", again.status, again.header.Get(httpserver.ReplayedHeader), again.body)
	}
	if n := svc.creates.Load(); n != 1 {
		t.Errorf("operation ran %d times, want 1", n)
	}
}

// TestIdempotencyRace pins that of many identical requests racing with one
// key, the operation runs once: the others get 409 or the replay.
func TestIdempotencyRace(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureConfig{})
	const n = 12
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { statuses[i] = goPost(t.Context(), f, knownRoom, "key-race", validHold).status })
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 201 && s != 409 {
			t.Errorf("request %d: status %d, want 201 or 409", i, s)
		}
	}
	if runs := f.svc.creates.Load(); runs != 1 {
		t.Errorf("operation ran %d times, want 1", runs)
	}
}

// TestIdempotencyGuards pins the middleware's own answers, without a
// validator in front: malformed keys 400, an oversized body 413, a store
// that refuses 503 — and that other requests pass through untouched.
func TestIdempotencyGuards(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		method string
		keys   []string
		body   string
		full   bool // the store refuses new keys
		status int
		runs   int
	}{
		{"no key passes through", "POST", nil, "{}", false, 200, 1},
		{"GET with a key passes through", "GET", []string{"key-get"}, "", false, 200, 1},
		{"PATCH is covered", "PATCH", []string{"key-patch"}, "{}", false, 200, 1},
		{"key sent twice", "POST", []string{"a-key", "b-key"}, "{}", false, 400, 0},
		{"empty key", "POST", []string{""}, "{}", false, 400, 0},
		{"key too long", "POST", []string{strings.Repeat("k", 256)}, "{}", false, 400, 0},
		{"key with a control character", "POST", []string{"key\tx"}, "{}", false, 400, 0},
		{"body over the idempotency limit", "POST", []string{"key-big"}, strings.Repeat("x", 1025), false, 413, 0},
		{"store full", "POST", []string{"key-full"}, "{}", true, 503, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, err := idempotency.NewMemoryStore(idempotency.WithMaxRecords(1))
			if err != nil {
				t.Fatal(err)
			}
			if tc.full {
				if _, err := store.Begin(t.Context(), "other", "fp", time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			idem, err := httpserver.Idempotency(store, httpserver.WithMaxIdempotentBody(1024))
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			runs := 0
			ts := httptest.NewServer(idem(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				mu.Lock()
				runs++
				mu.Unlock()
			})))
			t.Cleanup(ts.Close)
			res := do(t, tc.method, ts.URL+"/x", http.Header{"Idempotency-Key": tc.keys}, strings.NewReader(tc.body))
			if tc.keys == nil {
				res = do(t, tc.method, ts.URL+"/x", nil, strings.NewReader(tc.body))
			}
			if res.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", res.status, tc.status, res.body)
			}
			if tc.status >= 400 {
				res.problem(t)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.keys == nil {
				tc.runs = 2 // sent twice above
			}
			if runs != tc.runs {
				t.Errorf("handler ran %d times, want %d", runs, tc.runs)
			}
		})
	}
}

// TestIdempotencyOptions pins that Idempotency refuses a nil store and
// out-of-range options.
func TestIdempotencyOptions(t *testing.T) {
	t.Parallel()
	store, err := idempotency.NewMemoryStore()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		store idempotency.Store
		opts  []httpserver.IdempotencyOption
	}{
		{"nil store", nil, nil},
		{"zero retention", store, []httpserver.IdempotencyOption{httpserver.WithRetention(0)}},
		{"negative lock ttl", store, []httpserver.IdempotencyOption{httpserver.WithLockTTL(-time.Second)}},
		{"zero max body", store, []httpserver.IdempotencyOption{httpserver.WithMaxIdempotentBody(0)}},
		{"zero max request duration", store, []httpserver.IdempotencyOption{httpserver.WithMaxRequestDuration(0)}},
		{"nil caller identity", store, []httpserver.IdempotencyOption{httpserver.WithCallerIdentity(nil)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if mw, err := httpserver.Idempotency(tc.store, tc.opts...); err == nil || mw != nil {
				t.Errorf("Idempotency: middleware %v, err %v; want an error", mw != nil, err)
			}
		})
	}
}

// TestIdempotencyStoreKeys pins what is stored: one record per method,
// path and key, completed with the replayed headers only.
func TestIdempotencyStoreKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureConfig{})
	if res := postHold(t, f, knownRoom, "key-stored", validHold); res.status != 201 {
		t.Fatalf("status %d", res.status)
	}
	rec, err := f.store.Get(context.Background(), "POST /rooms/"+knownRoom+"/holds key-stored")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if rec.State != idempotency.Completed || rec.Response.Status != 201 {
		t.Errorf("record = %v %d, want completed 201", rec.State, rec.Response.Status)
	}
	for k := range rec.Response.Header {
		if k != "Content-Type" {
			t.Errorf("stored header %q, want only the replay headers", k)
		}
	}
	if _, err := f.store.Get(context.Background(), "POST /rooms/"+otherRoom+"/holds key-stored"); !errors.Is(err, idempotency.ErrNotFound) {
		t.Errorf("record under another path: err = %v, want ErrNotFound", err)
	}
}

// TestIdempotencyScopedPerCaller pins the fix of a cross-caller replay: the
// same Idempotency-Key value from two callers (by default, two
// Authorization headers) names two requests — each runs and neither is
// replayed the other's response — while the same caller's retry is a
// replay. The stored key holds a hash of the identity, never the
// credential. WithCallerIdentity replaces how the caller is named.
func TestIdempotencyScopedPerCaller(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		header string // carries the identity
		opts   []httpserver.IdempotencyOption
	}{
		{"default: Authorization", "Authorization", nil},
		{"custom identity", "X-Tenant", []httpserver.IdempotencyOption{httpserver.WithCallerIdentity(func(r *http.Request) string { return r.Header.Get("X-Tenant") })}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store, err := idempotency.NewMemoryStore()
			if err != nil {
				t.Fatal(err)
			}
			idem, err := httpserver.Idempotency(store, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var runs atomic.Int32
			ts := httptest.NewServer(idem(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				runs.Add(1)
				w.WriteHeader(http.StatusCreated)
				fmt.Fprintf(w, "created for %q", r.Header.Get(tc.header))
			})))
			t.Cleanup(ts.Close)
			post := func(who string) response {
				h := http.Header{"Idempotency-Key": {"key-shared"}}
				if who != "" {
					h.Set(tc.header, who)
				}
				return do(t, http.MethodPost, ts.URL+"/orders", h, strings.NewReader("{}"))
			}
			for _, step := range []struct {
				who, want string
				replayed  bool
			}{
				{"Bearer alice", `created for "Bearer alice"`, false},
				{"Bearer bob", `created for "Bearer bob"`, false},
				{"", `created for ""`, false},
				{"Bearer alice", `created for "Bearer alice"`, true},
				{"Bearer bob", `created for "Bearer bob"`, true},
			} {
				res := post(step.who)
				if res.status != 201 || string(res.body) != step.want || (res.header.Get(httpserver.ReplayedHeader) == "true") != step.replayed {
					t.Errorf("%q: %d %q replayed %q; want %q replayed %v", step.who, res.status, res.body, res.header.Get(httpserver.ReplayedHeader), step.want, step.replayed)
				}
			}
			if n := runs.Load(); n != 3 {
				t.Errorf("handler ran %d times, want 3 (one per caller)", n)
			}
			sum := sha256.Sum256([]byte("Bearer alice"))
			if _, err := store.Get(t.Context(), "POST /orders caller:"+hex.EncodeToString(sum[:])+" key-shared"); err != nil {
				t.Errorf("no record under the hashed identity: %v", err)
			}
		})
	}
}

// TestIdempotencyCrashedLockRetryAfter pins an honest Retry-After for a key
// whose request crashed mid-way (it never finished, so its lock only
// expires after the lock TTL): while the request may still be running
// (younger than the longest request) the duplicate is told to poll in a
// second; after that, the seconds left until the lock expires — it was 1
// for the whole minute before.
func TestIdempotencyCrashedLockRetryAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		store, err := idempotency.NewMemoryStore()
		if err != nil {
			t.Fatal(err)
		}
		idem, err := httpserver.Idempotency(store, httpserver.WithLockTTL(time.Minute), httpserver.WithMaxRequestDuration(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		crashed := make(chan struct{}) // the first request never returns until the end
		var runs atomic.Int32
		h := idem(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if runs.Add(1) == 1 {
				<-crashed
				return
			}
			w.WriteHeader(http.StatusCreated)
		}))
		post := func() *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader("{}"))
			req.Header.Set("Idempotency-Key", "key-crash")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		go post()
		synctest.Wait()
		for _, step := range []struct {
			after time.Duration // since the first request claimed the key
			want  string
		}{
			{time.Second, "1"},
			{29 * time.Second, "1"},
			{31 * time.Second, "29"},
			{59*time.Second + 500*time.Millisecond, "1"},
		} {
			time.Sleep(step.after - time.Since(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)))
			rec := post()
			if rec.Code != http.StatusConflict || rec.Header().Get("Retry-After") != step.want {
				t.Errorf("at %v: %d Retry-After %q, want 409 Retry-After %s", step.after, rec.Code, rec.Header().Get("Retry-After"), step.want)
			}
		}
		time.Sleep(time.Second) // the lock has expired
		if rec := post(); rec.Code != http.StatusCreated {
			t.Errorf("after the lock expired: %d, want 201", rec.Code)
		}
		close(crashed)
	})
}
