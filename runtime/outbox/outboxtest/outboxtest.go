// Package outboxtest is the conformance suite of the transactional outbox
// (runtime/outbox): every database backend of [outbox.Store] and
// [outbox.Relay] must pass [Run].
//
//	func TestOutbox(t *testing.T) {
//		for _, b := range sqldbtest.Backends(os.Getenv("KEIYAKU_TEST_POSTGRES_DSN")) {
//			t.Run(b.Name, func(t *testing.T) {
//				t.Parallel()
//				outboxtest.Run(t, b.Open)
//			})
//		}
//	}
//
// The relays in the suite publish through a fake send that appends to a
// slice (the Kafka side is tested with a real producer elsewhere), so the
// suite can check exactly what was sent, in which order, and make sends
// fail. Tests that need several relays at once run on PostgreSQL only.
package outboxtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// waitTimeout bounds every wait for records, so that a lost record shows
// as a failure rather than a hang. It is not a speed requirement.
const waitTimeout = 60 * time.Second

// Run runs the conformance suite against the databases newDB returns.
// newDB is called once per subtest and must return a fresh, empty
// database that it closes when t ends (sqldbtest.Backend.Open does).
// Subtests run in parallel.
func Run(t *testing.T, newDB func(t *testing.T) *sqldb.DB) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, db *sqldb.DB)
	}{
		{"RecordsRoundTrip", testRoundTrip},
		{"RolledBackNeverSent", testRolledBack},
		{"OrderPerKeyWithConcurrentWriters", testOrderPerKey},
		{"FailingSendIsRetried", testFailingSend},
		{"FailingMarkSendsAgain", testFailingMark},
		{"RestartLosesNothing", testRestart},
		{"TwoRelaysInParallel", testTwoRelays},
		{"NotifyWakesRelay", testNotify},
		{"NotifyChannelWakesRelay", testNotifyChannel},
		{"LagHistogramRecords", testMetrics},
		{"AddRejectsBadInput", testAddInvalid},
		{"AddUsesTransactionInContext", testAddFromContext},
		{"PendingAndPrune", testPendingPrune},
		{"RunTwiceIsAnError", testRunTwice},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newDB(t))
		})
	}
}

// sink is a fake send: it appends what it is given, unless fail says
// otherwise.
type sink struct {
	mu      sync.Mutex
	recs    []*kgo.Record
	calls   int
	changed chan struct{} // closed and replaced whenever recs grows
	// fail, if set, is asked before each call is stored; an error fails
	// the call, and store says whether the records still reached the
	// "broker" (an acknowledgement lost on the way back).
	fail func(call int, recs []*kgo.Record) (store bool, err error)
	// delay, if set, is slept in each call, with the lock released, to
	// let relays interleave.
	delay time.Duration
}

func newSink() *sink { return &sink{changed: make(chan struct{})} }

func (s *sink) send(_ context.Context, recs ...*kgo.Record) error {
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	store, err := true, error(nil)
	if s.fail != nil {
		store, err = s.fail(s.calls, recs)
	}
	if store {
		s.recs = append(s.recs, recs...)
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return err
}

// got returns a copy of the records sent so far.
func (s *sink) got() []*kgo.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*kgo.Record(nil), s.recs...)
}

// waitFor waits until at least n records were sent and returns them.
func (s *sink) waitFor(t *testing.T, n int) []*kgo.Record {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		have, changed := len(s.recs), s.changed
		s.mu.Unlock()
		if have >= n {
			return s.got()
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("waited %v for %d records, got %d", waitTimeout, n, have)
		}
	}
}

// waitUntil polls cond until it holds, failing t after waitTimeout.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", waitTimeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitPending waits until the outbox has n pending records: a relay
// marks a batch sent a moment after send returns.
func waitPending(t *testing.T, s *outbox.Store, n int) {
	t.Helper()
	var (
		got int
		err error
	)
	waitUntil(t, fmt.Sprintf("%d pending records", n), func() bool {
		got, err = s.Pending(t.Context())
		return err == nil && got == n
	})
}

// newStore returns the outbox on db.
func newStore(t *testing.T, db *sqldb.DB) *outbox.Store {
	t.Helper()
	s, err := outbox.NewStore(t.Context(), db)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return s
}

// newRelay returns a relay of s publishing into k, with quick retries.
func newRelay(t *testing.T, s *outbox.Store, k *sink, opts ...outbox.RelayOption) *outbox.Relay {
	t.Helper()
	opts = append([]outbox.RelayOption{outbox.WithBackoff(time.Millisecond, 20*time.Millisecond)}, opts...)
	r, err := outbox.NewRelay(s, k.send, opts...)
	if err != nil {
		t.Fatalf("NewRelay: %v", err)
	}
	return r
}

// start runs r until stop is called or the test ends; stop returns Run's
// error.
func start(t *testing.T, r *outbox.Relay) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	var (
		once sync.Once
		err  error
	)
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(waitTimeout):
				err = fmt.Errorf("Run did not return within %v of cancel", waitTimeout)
			}
		})
		return err
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return stop
}

// event returns the record of event seq of key on topic "t": value
// "key/seq", and a ce_id header naming it.
func event(key string, seq int) *kgo.Record {
	id := key + "/" + strconv.Itoa(seq)
	return &kgo.Record{
		Topic: "t",
		Key:   []byte(key),
		Value: []byte(id),
		Headers: []kgo.RecordHeader{
			{Key: "ce_id", Value: []byte(id)},
		},
	}
}

// parse returns the key and seq of a record made by event.
func parse(t *testing.T, r *kgo.Record) (string, int) {
	t.Helper()
	key, seq, ok := strings.Cut(string(r.Value), "/")
	n, err := strconv.Atoi(seq)
	if !ok || err != nil || key != string(r.Key) {
		t.Fatalf("record %q (key %q) was not made by event()", r.Value, r.Key)
	}
	return key, n
}

// add adds recs in one committed transaction.
func add(t *testing.T, db *sqldb.DB, s *outbox.Store, recs ...*kgo.Record) {
	t.Helper()
	if err := db.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
		return s.Add(ctx, tx, recs...)
	}); err != nil {
		t.Fatalf("Add: %v", err)
	}
}

// checkDelivery checks that recs hold events 0..want[key]-1 of every
// key, in order per key; with exactlyOnce, each once. Without it,
// duplicates are allowed (at-least-once) but the first occurrences must
// be in order.
func checkDelivery(t *testing.T, recs []*kgo.Record, want map[string]int, exactlyOnce bool) {
	t.Helper()
	next := make(map[string]int)
	seen := make(map[string]bool)
	for _, r := range recs {
		key, seq := parse(t, r)
		id := string(r.Value)
		if seen[id] {
			if exactlyOnce {
				t.Errorf("event %s sent twice", id)
			}
			continue
		}
		seen[id] = true
		if seq != next[key] {
			t.Errorf("key %s: event %d sent when %d was due: order broken", key, seq, next[key])
		}
		next[key] = seq + 1
	}
	for key, n := range want {
		if next[key] != n {
			t.Errorf("key %s: %d events sent in order, want %d", key, next[key], n)
		}
	}
	if len(next) != len(want) {
		t.Errorf("records of %d keys sent, want %d", len(next), len(want))
	}
}

// testRoundTrip pins that a record comes out of the outbox as it went
// in: topic, nil or empty key and value kept apart, binary bytes, and
// headers in order with duplicates and empty values.
func testRoundTrip(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	in := []*kgo.Record{
		{Topic: "a", Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{
			{Key: "h", Value: []byte("1")}, {Key: "h", Value: []byte("2")}, {Key: "empty", Value: []byte{}}, {Key: "nil"},
		}},
		{Topic: "a", Key: nil, Value: []byte("null key")},
		{Topic: "a", Key: []byte{}, Value: []byte("empty key")},
		{Topic: "b.with.dots", Key: []byte("k"), Value: nil},
		{Topic: "b.with.dots", Key: []byte("k"), Value: []byte{}},
		{Topic: "c", Key: []byte{0, 0xff, '\n', 0xfe}, Value: []byte{0, 0xc3, 0x01, 0xff}, Headers: []kgo.RecordHeader{{Key: "bin", Value: []byte{0, 0xff}}}},
	}
	add(t, db, s, in...)
	k := newSink()
	start(t, newRelay(t, s, k))
	out := k.waitFor(t, len(in))
	if len(out) != len(in) {
		t.Fatalf("%d records sent, want %d", len(out), len(in))
	}
	for i := range in {
		w, g := in[i], out[i]
		if g.Topic != w.Topic || !sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) {
			t.Errorf("record %d = topic %q key %q (nil %v) value %q (nil %v); want %q %q (nil %v) %q (nil %v)",
				i, g.Topic, g.Key, g.Key == nil, g.Value, g.Value == nil, w.Topic, w.Key, w.Key == nil, w.Value, w.Value == nil)
		}
		if len(g.Headers) != len(w.Headers) {
			t.Errorf("record %d: headers %v, want %v", i, g.Headers, w.Headers)
			continue
		}
		for j := range w.Headers {
			if g.Headers[j].Key != w.Headers[j].Key || string(g.Headers[j].Value) != string(w.Headers[j].Value) {
				t.Errorf("record %d header %d = %q=%q, want %q=%q", i, j, g.Headers[j].Key, g.Headers[j].Value, w.Headers[j].Key, w.Headers[j].Value)
			}
		}
	}
}

// sameBytes compares two byte slices, telling nil from empty.
func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && string(a) == string(b)
}

// testRolledBack pins that records added in a transaction that rolls
// back are never sent, while those of a later committed one are.
func testRolledBack(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	abort := errors.New("abort")
	err := db.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
		if err := s.Add(ctx, tx, event("k", 100), event("other", 0)); err != nil {
			return err
		}
		return abort
	})
	if !errors.Is(err, abort) {
		t.Fatalf("InTx = %v, want abort", err)
	}
	add(t, db, s, event("k", 0))
	k := newSink()
	start(t, newRelay(t, s, k))
	k.waitFor(t, 1)
	waitPending(t, s, 0)
	checkDelivery(t, k.got(), map[string]int{"k": 1}, true)
}

// testOrderPerKey pins order per key and exactly-once delivery with many
// keys, small batches, and writers adding while the relay runs.
func testOrderPerKey(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	k := newSink()
	r := newRelay(t, s, k, outbox.WithBatchSize(16), outbox.WithPollInterval(time.Millisecond))
	start(t, r)
	const (
		writers       = 3
		keysPerWriter = 10
		perKey        = 20
	)
	want := make(map[string]int)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		keys := make([]string, keysPerWriter)
		for i := range keys {
			keys[i] = fmt.Sprintf("w%d-k%d", w, i)
			want[keys[i]] = perKey
		}
		wg.Go(func() {
			// Each transaction adds the next event of two or three keys.
			next := make([]int, len(keys))
			for i := 0; ; i++ {
				var recs []*kgo.Record
				for j := range 2 + i%2 {
					ki := (i + j*3) % len(keys)
					if next[ki] < perKey {
						recs = append(recs, event(keys[ki], next[ki]))
						next[ki]++
					}
				}
				if len(recs) == 0 {
					done := true
					for _, n := range next {
						done = done && n == perKey
					}
					if done {
						return
					}
					continue
				}
				if err := db.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
					return s.Add(ctx, tx, recs...)
				}); err != nil {
					errs <- err
					return
				}
				r.Notify()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	total := writers * keysPerWriter * perKey
	got := k.waitFor(t, total)
	checkDelivery(t, got, want, true)
}

// testFailingSend pins that a send failing several times in a row is
// retried, and then every record arrives exactly once, in order.
func testFailingSend(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	want := map[string]int{"a": 5, "b": 5}
	for i := range 5 {
		add(t, db, s, event("a", i), event("b", i))
	}
	const failures = 4
	k := newSink()
	k.fail = func(call int, _ []*kgo.Record) (bool, error) {
		if call <= failures {
			return false, fmt.Errorf("broker down (call %d)", call)
		}
		return true, nil
	}
	start(t, newRelay(t, s, k, outbox.WithBatchSize(3)))
	got := k.waitFor(t, 10)
	checkDelivery(t, got, want, true)
	k.mu.Lock()
	calls := k.calls
	k.mu.Unlock()
	if calls <= failures {
		t.Errorf("send called %d times, want more than the %d failures", calls, failures)
	}
}

// testFailingMark pins that records sent whose mark fails are sent
// again, and that nothing is lost: the mark is refused by a trigger until
// some records went out a second time. SQLite only (the trigger's
// syntax).
func testFailingMark(t *testing.T, db *sqldb.DB) {
	if db.Dialect != sqldb.SQLite {
		t.Skip("the refusing trigger is written for SQLite")
	}
	s := newStore(t, db)
	for _, q := range []string{
		`CREATE TABLE mark_refused (refused INTEGER NOT NULL)`,
		`INSERT INTO mark_refused VALUES (1)`,
		`CREATE TRIGGER refuse_mark BEFORE UPDATE OF sent_at ON keiyaku_outbox
WHEN (SELECT refused FROM mark_refused) = 1 BEGIN SELECT RAISE(ABORT, 'mark refused'); END`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	const n = 6
	for i := range n {
		add(t, db, s, event("a", i))
	}
	k := newSink()
	start(t, newRelay(t, s, k, outbox.WithBatchSize(2)))
	k.waitFor(t, n+2) // some sent twice: their mark failed
	if _, err := db.ExecContext(t.Context(), `UPDATE mark_refused SET refused = 0`); err != nil {
		t.Fatal(err)
	}
	waitPending(t, s, 0)
	got := k.got()
	checkDelivery(t, got, map[string]int{"a": n}, false)
	if len(got) <= n {
		t.Errorf("%d records sent, want more than %d: the unmarked ones again", len(got), n)
	}
}

// testRestart pins that stopping a relay in the middle — right after a
// batch reached the broker but its acknowledgement was lost — and
// starting a new store and relay on the database loses nothing: every
// record is sent, the first occurrences in order, and only records of the
// unacknowledged batch twice.
func testRestart(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	want := make(map[string]int)
	for _, key := range []string{"a", "b", "c", "d", "e"} {
		want[key] = 10
	}
	for i := range 10 {
		var recs []*kgo.Record
		for key := range want {
			recs = append(recs, event(key, i))
		}
		add(t, db, s, recs...)
	}
	first := newSink()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var lost []*kgo.Record
	first.fail = func(call int, recs []*kgo.Record) (bool, error) {
		if call < 3 {
			return true, nil
		}
		if call == 3 {
			lost = recs
			cancel() // the process goes down
			return true, errors.New("acknowledgement lost")
		}
		return false, errors.New("stopped")
	}
	r1 := newRelay(t, s, first, outbox.WithBatchSize(10))
	if err := r1.Run(ctx); err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if n, err := s.Pending(t.Context()); err != nil || n != 30 {
		t.Fatalf("Pending after the first relay = %d, %v; want 30", n, err)
	}

	s2 := newStore(t, db)
	second := newSink()
	start(t, newRelay(t, s2, second))
	second.waitFor(t, 30)
	all := append(first.got(), second.got()...)
	checkDelivery(t, all, want, false)
	if len(all) != 50+len(lost) {
		t.Errorf("%d records sent in all, want 50 plus the %d of the unacknowledged batch", len(all), len(lost))
	}
	waitPending(t, s2, 0)
}

// testTwoRelays pins, on PostgreSQL, that two relays running in parallel
// on one outbox send each record once, and a key's records in order,
// while writers add more.
func testTwoRelays(t *testing.T, db *sqldb.DB) {
	if db.Dialect != sqldb.Postgres {
		t.Skip("one relay per SQLite database")
	}
	s := newStore(t, db)
	k := newSink()
	k.delay = time.Millisecond
	for range 2 {
		r := newRelay(t, s, k, outbox.WithBatchSize(8), outbox.WithPollInterval(time.Millisecond))
		start(t, r)
	}
	want := make(map[string]int)
	const keys, perKey = 12, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for w := range 2 {
		wg.Go(func() {
			for seq := range perKey {
				var recs []*kgo.Record
				for i := w; i < keys; i += 2 {
					recs = append(recs, event(fmt.Sprintf("k%d", i), seq))
				}
				if err := db.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
					return s.Add(ctx, tx, recs...)
				}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range keys {
		want[fmt.Sprintf("k%d", i)] = perKey
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("writer: %v", err)
	}
	got := k.waitFor(t, keys*perKey)
	checkDelivery(t, got, want, true)
}

// testNotify pins that Notify wakes an idle relay: with an hour-long poll
// interval, a record committed after the relay went idle is sent only
// because of Notify.
func testNotify(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	k := newSink()
	r := newRelay(t, s, k, outbox.WithPollInterval(time.Hour))
	start(t, r)
	for i := range 3 {
		add(t, db, s, event("k", i))
		r.Notify()
		k.waitFor(t, i+1)
	}
	checkDelivery(t, k.got(), map[string]int{"k": 3}, true)
}

// testNotifyChannel pins the same for a WithNotify channel, and that a
// closed channel does not make the relay spin or stop.
func testNotifyChannel(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	k := newSink()
	poke := make(chan struct{}, 1)
	r := newRelay(t, s, k, outbox.WithPollInterval(time.Hour), outbox.WithNotify(poke))
	start(t, r)
	for i := range 3 {
		add(t, db, s, event("k", i))
		select {
		case poke <- struct{}{}:
		default:
		}
		k.waitFor(t, i+1)
	}
	close(poke)
	add(t, db, s, event("k", 3))
	r.Notify()
	k.waitFor(t, 4)
	checkDelivery(t, k.got(), map[string]int{"k": 4}, true)
}

// testAddInvalid pins clear errors for bad records and a missing
// transaction, and that a call with one bad record adds none.
func testAddInvalid(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	tests := []struct {
		name string
		recs []*kgo.Record
		want string
	}{
		{"nil record", []*kgo.Record{event("k", 0), nil}, "record 1 is nil"},
		{"empty topic", []*kgo.Record{event("k", 0), {Key: []byte("k")}}, "empty topic"},
	}
	for _, tt := range tests {
		err := db.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			return s.Add(ctx, tx, tt.recs...)
		})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Add = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	if err := s.Add(t.Context(), nil, event("k", 0)); err == nil || !strings.Contains(err.Error(), "nil tx") {
		t.Errorf("Add without a transaction = %v, want an error", err)
	}
	if n, err := s.Pending(t.Context()); err != nil || n != 0 {
		t.Errorf("Pending = %d, %v; want 0", n, err)
	}
	if _, err := outbox.NewStore(t.Context(), nil); err == nil {
		t.Error("NewStore(nil): no error")
	}
}

// testAddFromContext pins that Add with a nil tx uses the transaction in
// ctx, so a handler run by InTx or Processed.Process can add events.
func testAddFromContext(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	p, err := sqldb.NewProcessed(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Process(t.Context(), "in-1", func(ctx context.Context) error {
		return s.Add(ctx, nil, event("k", 0))
	}); err != nil {
		t.Fatalf("Process: %v", err)
	}
	boom := errors.New("boom")
	if _, err := p.Process(t.Context(), "in-2", func(ctx context.Context) error {
		if err := s.Add(ctx, nil, event("k", 1)); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Process = %v, want boom", err)
	}
	if n, err := s.Pending(t.Context()); err != nil || n != 1 {
		t.Errorf("Pending = %d, %v; want 1 (the failed handler's record rolled back)", n, err)
	}
}

// testPendingPrune pins that Pending counts the unsent records and Prune
// deletes sent ones only.
func testPendingPrune(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	add(t, db, s, event("k", 0), event("k", 1))
	if n, err := s.Pending(t.Context()); err != nil || n != 2 {
		t.Fatalf("Pending = %d, %v; want 2", n, err)
	}
	k := newSink()
	stop := start(t, newRelay(t, s, k, outbox.WithRetention(0)))
	k.waitFor(t, 2)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	add(t, db, s, event("k", 2))
	if n, err := s.Pending(t.Context()); err != nil || n != 1 {
		t.Fatalf("Pending = %d, %v; want 1", n, err)
	}
	n, err := s.Prune(t.Context(), time.Now().Add(time.Second))
	if err != nil || n != 2 {
		t.Errorf("Prune = %d, %v; want the 2 sent rows", n, err)
	}
	if n, err := s.Pending(t.Context()); err != nil || n != 1 {
		t.Errorf("Pending after Prune = %d, %v; want 1 (pending rows are kept)", n, err)
	}
}

// testRunTwice pins that a relay runs once at a time.
func testRunTwice(t *testing.T, db *sqldb.DB) {
	s := newStore(t, db)
	k := newSink()
	r := newRelay(t, s, k)
	start(t, r)
	add(t, db, s, event("k", 0))
	k.waitFor(t, 1) // Run is surely running
	if err := r.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Run = %v, want an error", err)
	}
}
