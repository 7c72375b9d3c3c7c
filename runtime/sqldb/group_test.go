package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// openGroup opens a SQLite file with group commit of up to max and a
// table kt(v integer primary key).
func openGroup(t *testing.T, max int) *DB {
	t.Helper()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "g.db"), WithGroupCommit(max))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if db.group == nil {
		t.Fatal("SQLite with one connection has no group commit")
	}
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE kt (v INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// waitQueued waits until n callers queue behind the leader.
func waitQueued(g *group, n int) {
	for {
		g.mu.Lock()
		q := len(g.queue)
		g.mu.Unlock()
		if q >= n {
			return
		}
		runtime.Gosched()
	}
}

func values(t *testing.T, db *DB) map[int]bool {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT v FROM kt`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out[v] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGroupCommit pins group commit: the transactions that queue while one
// runs share one transaction; each function's error rolls back its own
// writes only, a panic reaches its own caller, a nested InTx joins, and a
// group larger than the limit is split.
func TestGroupCommit(t *testing.T) {
	const n = 12
	db := openGroup(t, 8)
	ctx := t.Context()

	release := make(chan struct{})
	var (
		mu  sync.Mutex
		txs = map[*sql.Tx]int{}
	)
	insert := func(v int) func(ctx context.Context, tx *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			mu.Lock()
			txs[tx]++
			mu.Unlock()
			if v == 0 {
				<-release // the leader: hold the connection until all queue
			}
			// A nested InTx joins the group's transaction.
			return db.InTx(ctx, func(ctx context.Context, inner *sql.Tx) error {
				if inner != tx {
					return errors.New("nested InTx did not join")
				}
				if _, err := inner.ExecContext(ctx, `INSERT INTO kt (v) VALUES (?)`, v); err != nil {
					return err
				}
				switch v % 4 {
				case 1:
					return fmt.Errorf("fn %d failed", v)
				case 2:
					if v == 2 {
						panic("fn 2 panicked")
					}
				}
				return nil
			})
		}
	}
	errs := make([]error, n)
	panics := make([]any, n)
	var wg sync.WaitGroup
	for v := range n {
		wg.Go(func() {
			defer func() { panics[v] = recover() }()
			errs[v] = db.InTx(ctx, insert(v))
		})
		if v == 0 {
			// Wait until the leader runs before the others queue.
			for {
				mu.Lock()
				started := len(txs) > 0
				mu.Unlock()
				if started {
					break
				}
				runtime.Gosched()
			}
		}
	}
	waitQueued(db.group, n-1)
	close(release)
	wg.Wait()

	want := map[int]bool{}
	for v := range n {
		switch {
		case v%4 == 1:
			if errs[v] == nil || errs[v].Error() != fmt.Sprintf("fn %d failed", v) {
				t.Errorf("fn %d: InTx = %v, want its own error", v, errs[v])
			}
		case v == 2:
			if panics[v] != "fn 2 panicked" {
				t.Errorf("fn 2: panic %v, want its own", panics[v])
			}
		default:
			if errs[v] != nil || panics[v] != nil {
				t.Errorf("fn %d: InTx = %v, panic %v", v, errs[v], panics[v])
			}
			want[v] = true
		}
	}
	if got := values(t, db); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v (the failed functions' writes rolled back, the others committed)", got, want)
	}
	// The leader's group takes in those that queued while it ran, up to
	// the limit; the next leader takes the rest.
	sizes := map[int]int{}
	for _, k := range txs {
		sizes[k]++
	}
	if len(txs) != 2 || sizes[8] != 1 || sizes[n-8] != 1 {
		t.Errorf("transactions of sizes %v, want one of 8 (the limit) and one of %d", sizes, n-8)
	}
}

// TestGroupCommitCanceledWhileQueued pins that a caller whose context
// ends while it waits for the connection leaves the queue with the
// context's error, and its function does not run.
func TestGroupCommitCanceledWhileQueued(t *testing.T) {
	db := openGroup(t, 8)
	release := make(chan struct{})
	started := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- db.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
			close(started)
			<-release
			_, err := tx.ExecContext(ctx, `INSERT INTO kt (v) VALUES (1)`)
			return err
		})
	}()
	<-started
	ctx, cancel := context.WithCancel(t.Context())
	queued := make(chan error)
	go func() {
		queued <- db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO kt (v) VALUES (2)`)
			return err
		})
	}()
	waitQueued(db.group, 1)
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled while queued: InTx = %v, want context.Canceled", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("leader: %v", err)
	}
	if got := values(t, db); len(got) != 1 || !got[1] {
		t.Errorf("rows %v, want only the leader's 1", got)
	}
	// The queue is free again: a later InTx leads.
	if err := db.InTx(t.Context(), func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO kt (v) VALUES (3)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestWithGroupCommit pins the option's bounds and that 1 turns it off.
func TestWithGroupCommit(t *testing.T) {
	for _, n := range []int{0, 1025} {
		if _, err := Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), WithGroupCommit(n)); err == nil {
			t.Errorf("WithGroupCommit(%d): no error", n)
		}
	}
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "off.db"), WithGroupCommit(1))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.group != nil {
		t.Error("WithGroupCommit(1): group commit on")
	}
}

// BenchmarkInTxConcurrent measures small write transactions from 32
// goroutines on one SQLite file, with group commit and without.
func BenchmarkInTxConcurrent(b *testing.B) {
	for _, bc := range []struct {
		name string
		max  int
	}{{"group", DefaultGroupCommit}, {"single", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			db, err := Open(b.Context(), filepath.Join(b.TempDir(), "b.db"), WithGroupCommit(bc.max))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.ExecContext(b.Context(), `CREATE TABLE kt (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.SetParallelism(32 / max(runtime.GOMAXPROCS(0), 1))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := fmt.Sprintf("key-%d", next.Add(1))
					if err := db.InTx(b.Context(), func(ctx context.Context, tx *sql.Tx) error {
						_, err := tx.ExecContext(ctx, `INSERT INTO kt (k, v) VALUES (?, 1)`, k)
						return err
					}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
