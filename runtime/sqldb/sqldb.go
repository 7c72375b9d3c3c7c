package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
)

// Dialect is the SQL dialect of a DB.
type Dialect string

// The dialects Open knows.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Defaults of the options of [Open].
const (
	// DefaultSQLiteMaxOpenConns is one: SQLite lets one connection write
	// at a time, and one connection per process turns every would-be
	// SQLITE_BUSY between the goroutines of the process into an orderly
	// wait for the pool.
	DefaultSQLiteMaxOpenConns = 1
	// DefaultSQLiteReadConns is the size of the read-only pool of a
	// SQLite file ([DB.Reader]): WAL readers run beside the writer, one
	// per core of the machine the reference stack is sized for (2).
	DefaultSQLiteReadConns = 2
	// DefaultPostgresMaxOpenConns is the size of a PostgreSQL pool.
	DefaultPostgresMaxOpenConns = 10
	// DefaultMaxTxAttempts is how many times InTx runs a transaction that
	// fails with a serialization failure, deadlock or SQLITE_BUSY.
	DefaultMaxTxAttempts = 5
	// SQLiteBusyTimeout is the busy_timeout, in milliseconds, Open sets
	// on SQLite connections unless the DSN sets one.
	SQLiteBusyTimeout = 5000
)

// DB is a database/sql pool and its dialect. Safe for concurrent use. The
// caller owns it and closes it (DB.Close) after the stores built on it
// stop.
//
// A DB built by hand from an *sql.DB (rather than by [Open]) works, with
// the default options; SQLite then lacks the connection settings Open
// applies (WAL, busy_timeout, foreign keys, BEGIN IMMEDIATE).
type DB struct {
	*sql.DB
	Dialect Dialect

	read        *sql.DB // SQLite file: the read-only pool; else nil
	group       *group  // SQLite with one connection: InTx commits in groups; else nil
	log         *slog.Logger
	maxAttempts int
}

// Option configures [Open].
type Option func(*config)

type config struct {
	log         *slog.Logger
	maxOpen     int
	maxAttempts int
	stmtCache   int
	groupCommit int
	errs        []error
}

// WithLogger sets the logger for migrations applied (info) and retried
// transactions (debug), overriding the default of discarding logs.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.errs = append(c.errs, errors.New("nil logger"))
			return
		}
		c.log = l
	}
}

// WithMaxOpenConns bounds the connections of the pool, overriding the
// default of [DefaultSQLiteMaxOpenConns] for SQLite and
// [DefaultPostgresMaxOpenConns] for PostgreSQL. n must be positive. With
// SQLite, more than one connection lets readers run beside the writer
// (WAL); writers still go one at a time, waiting up to the busy timeout.
func WithMaxOpenConns(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.errs = append(c.errs, fmt.Errorf("max open conns %d: must be at least 1", n))
			return
		}
		c.maxOpen = n
	}
}

// WithStmtCacheSize sets how many prepared statements each SQLite
// connection keeps, by query text, overriding [DefaultStmtCacheSize]; 0
// turns the cache off, so that every statement is parsed again on every
// call. n must not be negative. A statement is prepared on its first use
// on a connection and reused until the cache evicts it (least recently
// used first) or the connection closes; queries built with a varying
// number of placeholders each take a slot. PostgreSQL ignores it: pgx
// keeps its own per-connection statement cache.
func WithStmtCacheSize(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.errs = append(c.errs, fmt.Errorf("statement cache size %d: must not be negative", n))
			return
		}
		c.stmtCache = n
	}
}

// WithGroupCommit sets how many [DB.InTx] transactions, at most, a
// SQLite pool of one connection (the default) commits together,
// overriding [DefaultGroupCommit]; 1 turns group commit off, so that
// every InTx commits on its own. n must be between 1 and 1024.
//
// With group commit, the InTx calls that wait for the connection while a
// transaction runs are run, each in a savepoint of its own, in one
// transaction, committed once: a function's error rolls back its writes
// only, and the result is that of running them one after the other, in
// the order they came, except that they commit — or, on a failed
// commit, fail — together. SQLite writes every page a transaction
// changed at each commit, so n small transactions committed together
// cost little more than one. PostgreSQL, and SQLite pools of more than
// one connection, ignore it.
func WithGroupCommit(n int) Option {
	return func(c *config) {
		if n < 1 || n > 1024 {
			c.errs = append(c.errs, fmt.Errorf("group commit %d: must be between 1 and 1024", n))
			return
		}
		c.groupCommit = n
	}
}

// WithMaxTxAttempts sets how many times [DB.InTx] runs a transaction that
// fails with a retryable error, overriding [DefaultMaxTxAttempts]. n must
// be at least 1 (1: never retry) and at most 20.
func WithMaxTxAttempts(n int) Option {
	return func(c *config) {
		if n < 1 || n > 20 {
			c.errs = append(c.errs, fmt.Errorf("max tx attempts %d: must be between 1 and 20", n))
			return
		}
		c.maxAttempts = n
	}
}

// Open opens dsn and checks that the database answers.
//
// A dsn starting with "postgres://" or "postgresql://" opens PostgreSQL
// through github.com/jackc/pgx/v5/stdlib; its query may set any runtime
// parameter, e.g. "?search_path=myschema". Anything else is a SQLite file
// path or "file:" URI opened through modernc.org/sqlite, with these
// settings unless the DSN sets them itself: journal_mode WAL, synchronous
// NORMAL (see below), busy_timeout [SQLiteBusyTimeout] ms, foreign_keys
// on, a cache of prepared statements per connection
// ([WithStmtCacheSize]), transactions that begin with
// BEGIN IMMEDIATE (_txlock=immediate: a transaction takes the write lock
// when it starts, so two writers never deadlock upgrading their locks) and
// times written in SQLite's own format (_time_format=sqlite).
//
// synchronous NORMAL in WAL mode fsyncs the WAL at checkpoints, not at
// every commit: a crash of the process loses nothing and the database is
// never corrupted, but a power loss or an OS crash may roll back the last
// transactions committed before it. For a commit that survives power loss
// (an fsync per commit, several times slower), set
// "_pragma=synchronous(FULL)" in the DSN.
//
// ctx bounds the opening only. Open returns an error, and leaves nothing
// open, for an empty or malformed dsn, a bad option, or a database that
// cannot be reached; the error never contains the dsn's password.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	if dsn == "" {
		return nil, errors.New("sqldb: open: empty dsn")
	}
	cfg := config{log: slog.New(slog.DiscardHandler), maxAttempts: DefaultMaxTxAttempts, stmtCache: DefaultStmtCacheSize, groupCommit: DefaultGroupCommit}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("sqldb: open: nil option")
		}
		o(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, fmt.Errorf("sqldb: open: %w", err)
	}
	var (
		sdb     *sql.DB
		dialect Dialect
	)
	if IsPostgresDSN(dsn) {
		// pgx knows the schemes in lower case only.
		scheme, rest, _ := strings.Cut(dsn, "://")
		pcfg, err := pgx.ParseConfig(strings.ToLower(scheme) + "://" + rest)
		if err != nil {
			return nil, fmt.Errorf("sqldb: open postgres: %w", err)
		}
		dialect = Postgres
		sdb = stdlib.OpenDB(*pcfg)
		if cfg.maxOpen == 0 {
			cfg.maxOpen = DefaultPostgresMaxOpenConns
		}
	} else {
		sdsn, err := sqliteDSN(dsn)
		if err != nil {
			return nil, fmt.Errorf("sqldb: open sqlite: %w", err)
		}
		dialect = SQLite
		conn, err := sqlite.NewConnector(sdsn)
		if err != nil {
			return nil, fmt.Errorf("sqldb: open sqlite: %w", err)
		}
		if cfg.stmtCache > 0 {
			conn = stmtConnector{Connector: conn, size: cfg.stmtCache}
		}
		sdb = sql.OpenDB(conn)
		if cfg.maxOpen == 0 {
			cfg.maxOpen = DefaultSQLiteMaxOpenConns
		}
		// Keep the connections: an in-memory database lives as long as
		// its connection, and reopening costs the pragmas.
		sdb.SetConnMaxLifetime(0)
		sdb.SetConnMaxIdleTime(0)
	}
	sdb.SetMaxOpenConns(cfg.maxOpen)
	sdb.SetMaxIdleConns(cfg.maxOpen)
	if err := sdb.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqldb: open %s: %w", dialect, err), sdb.Close())
	}
	db := &DB{DB: sdb, Dialect: dialect, log: cfg.log, maxAttempts: cfg.maxAttempts}
	if dialect == SQLite && cfg.maxOpen == 1 && cfg.groupCommit > 1 {
		db.group = &group{db: db, max: cfg.groupCommit}
	}
	if dialect == SQLite && !isMemoryDSN(dsn) {
		// After the writer opened the file (and set WAL mode), a
		// read-only pool beside it.
		rdsn, err := sqliteDSN(withQuery(dsn, "_pragma=query_only(1)"))
		if err == nil {
			var conn driver.Connector
			if conn, err = sqlite.NewConnector(rdsn); err == nil {
				if cfg.stmtCache > 0 {
					conn = stmtConnector{Connector: conn, size: cfg.stmtCache}
				}
				db.read = sql.OpenDB(conn)
				db.read.SetMaxOpenConns(DefaultSQLiteReadConns)
				db.read.SetMaxIdleConns(DefaultSQLiteReadConns)
				db.read.SetConnMaxLifetime(0)
				db.read.SetConnMaxIdleTime(0)
				err = db.read.PingContext(ctx)
			}
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("sqldb: open sqlite read pool: %w", err), db.Close())
		}
	}
	return db, nil
}

// Reader returns the pool for reads that need not see the caller's own
// uncommitted writes — a query outside any transaction: for a SQLite
// file, a pool of [DefaultSQLiteReadConns] read-only connections that WAL
// lets run beside the one writer, so that a read never queues behind the
// writes; otherwise (PostgreSQL, an in-memory SQLite database, a DB built
// by hand) the DB's own pool. A read there sees every transaction
// committed before it began. Writes through it fail.
func (db *DB) Reader() *sql.DB {
	if db.read != nil {
		return db.read
	}
	return db.DB
}

// Close closes the pools.
func (db *DB) Close() error {
	if db.read == nil {
		return db.DB.Close()
	}
	return errors.Join(db.DB.Close(), db.read.Close())
}

// isMemoryDSN reports an in-memory SQLite database, which a second pool
// would not share.
func isMemoryDSN(dsn string) bool {
	return strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory")
}

// withQuery adds a query parameter to dsn.
func withQuery(dsn, param string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + param
	}
	return dsn + "?" + param
}

// IsPostgresDSN reports whether [Open] opens dsn with PostgreSQL: whether
// it starts with "postgres://" or "postgresql://" (in any case).
func IsPostgresDSN(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// sqliteDefaults are the connection settings Open adds to a SQLite DSN,
// each unless the DSN has the key (or, for a _pragma, the pragma) already.
// busy_timeout comes first so that the journal_mode change, which needs
// the lock, waits for it.
var sqliteDefaults = []struct{ key, pragma, value string }{
	{"_pragma", "busy_timeout", fmt.Sprintf("busy_timeout(%d)", SQLiteBusyTimeout)},
	{"_pragma", "journal_mode", "journal_mode(WAL)"},
	{"_pragma", "synchronous", "synchronous(NORMAL)"},
	{"_pragma", "foreign_keys", "foreign_keys(1)"},
	{"_txlock", "", "immediate"},
	{"_time_format", "", "sqlite"},
}

// sqliteDSN adds sqliteDefaults to dsn.
func sqliteDSN(dsn string) (string, error) {
	base, query, _ := strings.Cut(dsn, "?")
	if base == "" {
		return "", errors.New("dsn has no file name")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("dsn query: %w", err)
	}
	var add []string
	for _, d := range sqliteDefaults {
		if d.pragma == "" {
			if !q.Has(d.key) {
				add = append(add, d.key+"="+url.QueryEscape(d.value))
			}
			continue
		}
		if !hasPragma(q, d.pragma) {
			add = append(add, d.key+"="+url.QueryEscape(d.value))
		}
	}
	if len(add) == 0 {
		return dsn, nil
	}
	extra := strings.Join(add, "&")
	if query == "" {
		return base + "?" + extra, nil
	}
	return base + "?" + extra + "&" + query, nil
}

// hasPragma reports whether q sets pragma, through _pragma or through one
// of the driver's shorthand keys (_busy_timeout, _journal_mode, ...).
func hasPragma(q url.Values, pragma string) bool {
	for _, v := range q["_pragma"] {
		name := strings.ToLower(strings.TrimSpace(v))
		if name == pragma || strings.HasPrefix(name, pragma+"(") || strings.HasPrefix(name, pragma+"=") || strings.HasPrefix(name, pragma+" ") {
			return true
		}
	}
	aliases := map[string][]string{
		"busy_timeout": {"_busy_timeout", "_timeout"},
		"journal_mode": {"_journal_mode", "_journal"},
		"foreign_keys": {"_foreign_keys", "_fk"},
		"synchronous":  {"_synchronous", "_sync"},
	}
	for _, k := range aliases[pragma] {
		if q.Has(k) {
			return true
		}
	}
	return false
}

// logger returns db's logger, discarding for a DB built by hand.
func (db *DB) logger() *slog.Logger {
	if db.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return db.log
}
