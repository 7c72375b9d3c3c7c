package sqldbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// RunProcessed runs the conformance suite of [sqldb.Processed] against
// the databases newDB returns. newDB is called once per subtest and must
// return a fresh, empty database that it closes when t ends (as
// [Backend.Open] does). Subtests run in parallel.
//
// The suite pins the promises of events.Processed as sqldb implements
// them: a recorded id does not run fn again, fn's writes and the id
// commit together or not at all, concurrent calls with one id run fn
// once, a panic or a cancelled context leaves nothing behind, and Process
// joins the transaction of an enclosing InTx.
func RunProcessed(t *testing.T, newDB func(t *testing.T) *sqldb.DB) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, db *sqldb.DB, p *sqldb.Processed)
	}{
		{"RedeliveryDoesNotRunFn", testRedelivery},
		{"WritesCommitWithID", testWritesCommitWithID},
		{"FnErrorRecordsNothing", testFnErrorRecordsNothing},
		{"ConcurrentSameIDRunsOnce", testConcurrentSameID},
		{"IDsAreIndependent", testIDsIndependent},
		{"InvalidArguments", testProcessedInvalid},
		{"CanceledContext", testProcessedCanceled},
		{"PanicRollsBack", testPanicRollsBack},
		{"JoinsEnclosingTransaction", testJoinsEnclosingTx},
		{"Prune", testPrune},
		{"NewProcessedIsIdempotent", testNewProcessedAgain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			p, err := sqldb.NewProcessed(t.Context(), db)
			if err != nil {
				t.Fatalf("NewProcessed: %v", err)
			}
			tc.run(t, db, p)
		})
	}
}

// effects makes the table that handlers in this suite write to.
func effects(t *testing.T, db *sqldb.DB) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE kt_effects (event_id TEXT NOT NULL, note TEXT NOT NULL)`); err != nil {
		t.Fatalf("create kt_effects: %v", err)
	}
}

// writeEffect is a handler that writes one row through the transaction
// in its context.
func writeEffect(db *sqldb.DB, id, note string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		tx, ok := sqldb.TxFrom(ctx)
		if !ok {
			return errors.New("no transaction in the handler's context")
		}
		_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO kt_effects (event_id, note) VALUES (?, ?)`), id, note)
		return err
	}
}

func mustProcess(t *testing.T, p *sqldb.Processed, id string, fn func(context.Context) error) bool {
	t.Helper()
	done, err := p.Process(t.Context(), id, fn)
	if err != nil {
		t.Fatalf("Process(%q): %v", id, err)
	}
	return done
}

// testRedelivery pins that the second Process of an id reports done and
// does not run fn.
func testRedelivery(t *testing.T, _ *sqldb.DB, p *sqldb.Processed) {
	calls := 0
	fn := func(context.Context) error { calls++; return nil }
	if mustProcess(t, p, "e1", fn) {
		t.Fatal("first Process reported done")
	}
	for range 3 {
		if !mustProcess(t, p, "e1", fn) {
			t.Error("redelivered id not reported done")
		}
	}
	if calls != 1 {
		t.Errorf("fn ran %d times, want 1", calls)
	}
}

// testWritesCommitWithID pins that the handler's writes through TxFrom
// are committed with the id.
func testWritesCommitWithID(t *testing.T, db *sqldb.DB, p *sqldb.Processed) {
	effects(t, db)
	mustProcess(t, p, "e1", writeEffect(db, "e1", "first"))
	mustProcess(t, p, "e1", writeEffect(db, "e1", "second"))
	if n := Count(t, db, "kt_effects"); n != 1 {
		t.Errorf("%d effect rows, want 1", n)
	}
	if n := Count(t, db, "keiyaku_processed_events"); n != 1 {
		t.Errorf("%d recorded ids, want 1", n)
	}
}

// testFnErrorRecordsNothing pins that a failing handler leaves neither
// its writes nor the id, returns its own error, and that the event is
// processed when it comes again.
func testFnErrorRecordsNothing(t *testing.T, db *sqldb.DB, p *sqldb.Processed) {
	effects(t, db)
	boom := errors.New("boom")
	write := writeEffect(db, "e1", "failed")
	done, err := p.Process(t.Context(), "e1", func(ctx context.Context) error {
		if err := write(ctx); err != nil {
			return err
		}
		return fmt.Errorf("handler: %w", boom)
	})
	if !errors.Is(err, boom) || done {
		t.Fatalf("Process = %v, %v; want false and the handler's error", done, err)
	}
	if n := Count(t, db, "kt_effects"); n != 0 {
		t.Errorf("%d effect rows after a failed handler, want 0", n)
	}
	if n := Count(t, db, "keiyaku_processed_events"); n != 0 {
		t.Errorf("%d recorded ids after a failed handler, want 0", n)
	}
	if mustProcess(t, p, "e1", writeEffect(db, "e1", "retried")) {
		t.Error("the retry of a failed event was reported done")
	}
	if n := Count(t, db, "kt_effects"); n != 1 {
		t.Errorf("%d effect rows after the retry, want 1", n)
	}
}

// testConcurrentSameID pins that of many concurrent Process calls with
// one id, fn runs exactly once and every other call reports done.
func testConcurrentSameID(t *testing.T, db *sqldb.DB, p *sqldb.Processed) {
	effects(t, db)
	const n = 8
	var (
		calls atomic.Int32
		wg    sync.WaitGroup
		start = make(chan struct{})
		dones = make([]bool, n)
		errs  = make([]error, n)
	)
	write := writeEffect(db, "race", "x")
	for i := range n {
		wg.Go(func() {
			<-start
			dones[i], errs[i] = p.Process(t.Context(), "race", func(ctx context.Context) error {
				calls.Add(1)
				// Hold the transaction open a moment so that the other
				// calls arrive while it runs.
				time.Sleep(20 * time.Millisecond)
				return write(ctx)
			})
		})
	}
	close(start)
	wg.Wait()
	notDone := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Process #%d: %v", i, errs[i])
		}
		if !dones[i] {
			notDone++
		}
	}
	if c := calls.Load(); c != 1 || notDone != 1 {
		t.Errorf("fn ran %d times and %d calls reported not done; want 1 and 1", c, notDone)
	}
	if got := Count(t, db, "kt_effects"); got != 1 {
		t.Errorf("%d effect rows, want 1", got)
	}
}

// testIDsIndependent pins that ids differing in case or spacing are
// different events.
func testIDsIndependent(t *testing.T, _ *sqldb.DB, p *sqldb.Processed) {
	ids := []string{"id", "ID", "id ", "イベント", "0190b3c2-7e6a-7b7c-8d9e-0f1a2b3c4d5e"}
	for _, id := range ids {
		if mustProcess(t, p, id, func(context.Context) error { return nil }) {
			t.Errorf("Process(%q) reported done before it was processed", id)
		}
	}
	for _, id := range ids {
		if !mustProcess(t, p, id, func(context.Context) error { return nil }) {
			t.Errorf("Process(%q) again not reported done", id)
		}
	}
}

// testProcessedInvalid pins clear errors for an empty id and a nil fn,
// with nothing recorded.
func testProcessedInvalid(t *testing.T, db *sqldb.DB, p *sqldb.Processed) {
	if _, err := p.Process(t.Context(), "", func(context.Context) error { return nil }); err == nil {
		t.Error("Process with an empty id: no error")
	}
	if _, err := p.Process(t.Context(), "e1", nil); err == nil {
		t.Error("Process with a nil fn: no error")
	}
	if n := Count(t, db, "keiyaku_processed_events"); n != 0 {
		t.Errorf("%d ids recorded by refused calls, want 0", n)
	}
}

// testProcessedCanceled pins that a cancelled context is reported,
// wrapping context.Canceled, without running fn or recording the id.
func testProcessedCanceled(t *testing.T, db *sqldb.DB, p *sqldb.Processed) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	ran := false
	_, err := p.Process(ctx, "e1", func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Process: err = %v, want context.Canceled", err)
	}
	if ran {
		t.Error("fn ran with a cancelled context")
	}
	if n := Count(t, db, "keiyaku_processed_events"); n != 0 {
		t.Errorf("%d ids recorded, want 0", n)
	}
}

// testPanicRollsBack pins that a panicking handler rolls its transaction
// back (the id is not recorded) and gives its connection back: later
// calls work, even on a one-connection SQLite pool.
func testPanicRollsBack(t *testing.T, db *sqldb.DB, p *sqldb.Processed) {
	effects(t, db)
	write := writeEffect(db, "e1", "panicked")
	func() {
		defer func() {
			if r := recover(); r != "handler panic" {
				t.Errorf("recovered %v, want the handler's panic", r)
			}
		}()
		_, _ = p.Process(t.Context(), "e1", func(ctx context.Context) error {
			if err := write(ctx); err != nil {
				return err
			}
			panic("handler panic")
		})
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done, err := p.Process(ctx, "e1", writeEffect(db, "e1", "after"))
	if err != nil || done {
		t.Fatalf("Process after a panic = %v, %v; want false, nil", done, err)
	}
	if n := Count(t, db, "kt_effects"); n != 1 {
		t.Errorf("%d effect rows, want 1 (the panicked write rolled back)", n)
	}
}

// testJoinsEnclosingTx pins that Process inside InTx uses that
// transaction: when the enclosing transaction rolls back, the id is not
// recorded.
func testJoinsEnclosingTx(t *testing.T, db *sqldb.DB, p *sqldb.Processed) {
	abort := errors.New("abort")
	err := db.InTx(t.Context(), func(ctx context.Context, _ *sql.Tx) error {
		if _, err := p.Process(ctx, "e1", func(context.Context) error { return nil }); err != nil {
			return err
		}
		return abort
	})
	if !errors.Is(err, abort) {
		t.Fatalf("InTx: %v, want abort", err)
	}
	if n := Count(t, db, "keiyaku_processed_events"); n != 0 {
		t.Errorf("%d ids recorded by a rolled-back enclosing transaction, want 0", n)
	}
	if err := db.InTx(t.Context(), func(ctx context.Context, _ *sql.Tx) error {
		_, err := p.Process(ctx, "e1", func(context.Context) error { return nil })
		return err
	}); err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if !mustProcess(t, p, "e1", func(context.Context) error { return nil }) {
		t.Error("id processed in a committed enclosing transaction is not done")
	}
}

// testPrune pins that Prune forgets ids processed before the given time
// and keeps the others.
func testPrune(t *testing.T, _ *sqldb.DB, p *sqldb.Processed) {
	nop := func(context.Context) error { return nil }
	mustProcess(t, p, "old", nop)
	n, err := p.Prune(t.Context(), time.Now().Add(-time.Hour))
	if err != nil || n != 0 {
		t.Fatalf("Prune(an hour ago) = %d, %v; want 0, nil", n, err)
	}
	n, err = p.Prune(t.Context(), time.Now().Add(time.Second))
	if err != nil || n != 1 {
		t.Fatalf("Prune(now) = %d, %v; want 1, nil", n, err)
	}
	if mustProcess(t, p, "old", nop) {
		t.Error("a pruned id is still reported done")
	}
}

// testNewProcessedAgain pins that building the store again on a database
// that has its table (a restart) works and keeps the recorded ids.
func testNewProcessedAgain(t *testing.T, db *sqldb.DB, p *sqldb.Processed) {
	mustProcess(t, p, "e1", func(context.Context) error { return nil })
	p2, err := sqldb.NewProcessed(t.Context(), db)
	if err != nil {
		t.Fatalf("NewProcessed again: %v", err)
	}
	if !mustProcess(t, p2, "e1", func(context.Context) error { return nil }) {
		t.Error("id recorded before the restart is not done")
	}
}
