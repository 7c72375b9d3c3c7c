package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// DefaultGroupCommit is how many [DB.InTx] transactions, at most, [Open]
// commits together on a SQLite pool of one connection unless
// [WithGroupCommit] says otherwise.
const DefaultGroupCommit = 64

// errGroupAborted is the error of a transaction whose function succeeded
// in a group that another function's failure rolled back as a whole (an
// error SQLite answers by ending the transaction, such as an interrupt):
// InTx runs it again.
var errGroupAborted = errors.New("sqldb: the group commit this transaction was part of was rolled back; run again")

// groupSavepoint brackets each function of a group.
const groupSavepoint = "keiyaku_group"

// group commits together the InTx transactions that queue for SQLite's
// one writer connection (group commit). Callers queue; the first one with
// nobody leading takes the lead: it begins one transaction and runs the
// queued functions in it one after the other, each inside a savepoint, so
// that a function's error rolls back its own writes only, takes in
// whatever queued meanwhile (up to max functions), commits once, and
// tells every caller its outcome. It then hands the lead to the first
// caller still queued. A group is the same as running its functions one
// after the other, each in a transaction of its own, in the order they
// queued, except that they become durable together: a commit error fails
// them all (and InTx runs them again when it is retryable). SQLite writes
// each page a transaction changed once per commit, so a group of n
// writes the pages they share once instead of n times.
type group struct {
	db  *DB
	max int

	mu      sync.Mutex
	queue   []*groupTx
	leading bool
}

// groupTx is one InTx transaction waiting in, or run by, a group.
type groupTx struct {
	ctx  context.Context
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan struct{} // receives once: finished, or lead set

	// Written by the leader before done is signalled.
	lead     bool // the caller leads the next group instead
	taken    bool // under group.mu: a leader took it out of the queue
	err      error
	panicked bool
	panicVal any
}

// run runs fn in a transaction shared with the other callers queued at
// the time, and returns fn's error or the begin or commit error. A panic
// of fn goes on in the caller's goroutine, after its group ended.
func (g *group) run(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	t := &groupTx{ctx: ctx, fn: fn, done: make(chan struct{}, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, t)
	if g.leading {
		g.mu.Unlock()
		select {
		case <-t.done:
		case <-ctx.Done():
			g.mu.Lock()
			if !t.taken && !t.lead {
				// Still waiting: leave the queue, as a caller waiting for
				// the connection in database/sql gives up.
				g.queue = remove(g.queue, t)
				g.mu.Unlock()
				return ctx.Err()
			}
			g.mu.Unlock()
			<-t.done
		}
		if !t.lead {
			return t.result()
		}
	} else {
		g.leading = true
		g.mu.Unlock()
	}
	// t is at the head of the queue: lead one group, which takes it.
	// First let the goroutines that are ready to run do so: those about
	// to call InTx (the other requests' handlers, the other partitions'
	// consumers) queue now and join this group instead of each waiting
	// for a commit of its own. It costs one trip through the scheduler;
	// in the reference stack it made groups of about 5 instead of 1.5.
	runtime.Gosched()
	g.commit()
	g.mu.Lock()
	if len(g.queue) > 0 {
		next := g.queue[0]
		next.lead = true
		next.done <- struct{}{}
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return t.result()
}

func (t *groupTx) result() error {
	if t.panicked {
		panic(t.panicVal)
	}
	return t.err
}

func remove(q []*groupTx, t *groupTx) []*groupTx {
	for i, u := range q {
		if u == t {
			return append(q[:i:i], q[i+1:]...)
		}
	}
	return q
}

// take moves up to n callers from the queue into a group.
func (g *group) take(n int) []*groupTx {
	g.mu.Lock()
	defer g.mu.Unlock()
	n = min(n, len(g.queue))
	out := make([]*groupTx, n)
	copy(out, g.queue)
	for _, t := range out {
		t.taken = true
	}
	g.queue = append(g.queue[:0:0], g.queue[n:]...)
	return out
}

// commit runs one group: the callers queued now and those that queue
// while it runs, up to g.max, and signals each but the leader, whose
// result run returns.
func (g *group) commit() {
	batch := g.take(g.max)
	leader := batch[0]
	defer func() {
		for _, t := range batch {
			if t != leader {
				t.done <- struct{}{}
			}
		}
	}()
	tx, err := g.db.BeginTx(context.WithoutCancel(leader.ctx), nil)
	if err != nil {
		for _, t := range batch {
			t.err = fmt.Errorf("sqldb: begin: %w", err)
		}
		return
	}
	var (
		ok     []*groupTx // ran without error, waiting for the commit
		broken error      // the transaction ended under the group
	)
	for i := 0; ; i++ {
		if i == len(batch) {
			if len(batch) >= g.max {
				break
			}
			more := g.take(g.max - len(batch))
			if len(more) == 0 {
				break
			}
			batch = append(batch, more...)
		}
		t := batch[i]
		if broken != nil {
			t.err = fmt.Errorf("%w: %w", errGroupAborted, broken)
			continue
		}
		if err := t.ctx.Err(); err != nil {
			t.err = err
			continue
		}
		if _, err := tx.ExecContext(context.WithoutCancel(t.ctx), "SAVEPOINT "+groupSavepoint); err != nil {
			broken = err
			t.err = fmt.Errorf("%w: %w", errGroupAborted, err)
			continue
		}
		t.call(g.db, tx)
		if t.err == nil && !t.panicked {
			if _, err := tx.ExecContext(context.WithoutCancel(t.ctx), "RELEASE "+groupSavepoint); err != nil {
				broken = err
				t.err = fmt.Errorf("%w: %w", errGroupAborted, err)
				continue
			}
			ok = append(ok, t)
			continue
		}
		_, err1 := tx.ExecContext(context.WithoutCancel(t.ctx), "ROLLBACK TO "+groupSavepoint)
		_, err2 := tx.ExecContext(context.WithoutCancel(t.ctx), "RELEASE "+groupSavepoint)
		if err := errors.Join(err1, err2); err != nil {
			broken = err
		}
	}
	if broken != nil {
		_ = tx.Rollback()
		for _, t := range ok {
			t.err = fmt.Errorf("%w: %w", errGroupAborted, broken)
		}
		return
	}
	if err := tx.Commit(); err != nil {
		for _, t := range ok {
			t.err = fmt.Errorf("sqldb: commit: %w", err)
		}
	}
}

// call runs t's function in tx, keeping its error or panic.
func (t *groupTx) call(db *DB, tx *sql.Tx) {
	defer func() {
		if v := recover(); v != nil {
			t.panicked, t.panicVal = true, v
		}
	}()
	t.err = t.fn(context.WithValue(t.ctx, txKey{}, txValue{db: db, tx: tx}), tx)
}

// execGrouped runs one statement as db.ExecContext does, except that on
// a DB with group commit it runs in a transaction of InTx, so that it
// commits with the other transactions waiting rather than on its own
// (elsewhere a transaction around one statement would only add round
// trips).
func (db *DB) execGrouped(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if db.group == nil {
		return db.ExecContext(ctx, query, args...)
	}
	var r sql.Result
	err := db.InTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		r, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return r, err
}
