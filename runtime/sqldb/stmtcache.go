package sqldb

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"reflect"
)

// DefaultStmtCacheSize is how many prepared statements [Open] keeps per
// SQLite connection unless [WithStmtCacheSize] says otherwise.
const DefaultStmtCacheSize = 128

// stmtConnector opens SQLite connections that keep their prepared
// statements: see stmtConn.
type stmtConnector struct {
	driver.Connector
	size int
}

func (c stmtConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newStmtConn(conn, c.size)
}

// connIface is what database/sql uses of a modernc.org/sqlite
// connection; stmtConn forwards all of it, so that wrapping changes
// nothing but the cost of a statement.
type connIface interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// stmtConn is one SQLite connection with a cache of its prepared
// statements, by query text, least recently used evicted first. Without
// it, an Exec or Query with arguments parses and plans its SQL on every
// call (modernc.org/sqlite prepares, runs and finalizes); with it, a
// statement is prepared once per connection and reset between runs.
// database/sql never uses one connection from two goroutines at a time,
// so stmtConn needs no lock. A statement whose rows are still open (a
// query inside the loop over another query of the same text) is not
// shared: the second call runs uncached.
type stmtConn struct {
	conn  connIface
	size  int
	stmts map[string]*list.Element // → *cachedStmt
	lru   list.List                // front: most recently used
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	busy  bool // its rows are open
	gone  bool // evicted while busy: close when the rows close
}

func newStmtConn(c driver.Conn, size int) (driver.Conn, error) {
	ci, ok := c.(connIface)
	if !ok {
		return nil, errors.Join(errors.New("sqldb: sqlite connection lacks the context interfaces"), c.Close())
	}
	return &stmtConn{conn: ci, size: size, stmts: make(map[string]*list.Element)}, nil
}

// Unwrap returns the driver's connection, for modernc.org/sqlite's
// helpers that look through wrappers.
func (c *stmtConn) Unwrap() driver.Conn { return c.conn }

// stmt returns the cached statement of query, preparing it on first use,
// or nil when it is busy.
func (c *stmtConn) stmt(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.stmts[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(e)
		return cs, nil
	}
	st, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.stmts[query] = c.lru.PushFront(cs)
	for c.lru.Len() > c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		ocs := old.Value.(*cachedStmt)
		delete(c.stmts, ocs.query)
		if ocs.busy {
			ocs.gone = true
		} else {
			_ = ocs.stmt.Close()
		}
	}
	return cs, nil
}

func (c *stmtConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.conn.ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *stmtConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.conn.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

// Close finalizes the cached statements and closes the connection.
func (c *stmtConn) Close() error {
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		if cs := e.Value.(*cachedStmt); !cs.busy {
			errs = append(errs, cs.stmt.Close())
		}
	}
	c.lru.Init()
	clear(c.stmts)
	return errors.Join(append(errs, c.conn.Close())...)
}

func (c *stmtConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }
func (c *stmtConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.conn.PrepareContext(ctx, query)
}
func (c *stmtConn) Begin() (driver.Tx, error) {
	return c.conn.BeginTx(context.Background(), driver.TxOptions{})
}
func (c *stmtConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.conn.BeginTx(ctx, opts)
}
func (c *stmtConn) Ping(ctx context.Context) error         { return c.conn.Ping(ctx) }
func (c *stmtConn) ResetSession(ctx context.Context) error { return c.conn.ResetSession(ctx) }
func (c *stmtConn) IsValid() bool                          { return c.conn.IsValid() }

// cachedRows are the rows of a cached statement: closing them frees the
// statement for the next call. The optional column-type interfaces of
// the driver's rows are forwarded, answering as database/sql does for
// rows without them.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	r.cs.busy = false
	if r.cs.gone {
		err = errors.Join(err, r.cs.stmt.Close())
	}
	return err
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
