// Package sqldb is the database layer of Keiyaku services and the durable
// stores of the runtime: it opens SQLite or PostgreSQL behind one
// database/sql pool ([Open], [DB]), applies versioned migrations
// ([DB.Migrate]), runs retried transactions that carry themselves in the
// context ([DB.InTx], [TxFrom]), and implements the consumer's processed
// event ids ([Processed], an events.Processed) and the Idempotency-Key
// records of HTTP servers ([IdempotencyStore], an idempotency.Store).
// The transactional outbox, in runtime/outbox, is built on it too.
//
// # Two databases, one code path
//
// SQLite (modernc.org/sqlite, pure Go) is the embedded default: a file
// next to the service, no server to install. PostgreSQL (through
// github.com/jackc/pgx/v5/stdlib) is the production database. [Open]
// picks by the DSN: "postgres://…" or "postgresql://…" is PostgreSQL,
// anything else a SQLite file. Queries are written once with ?
// placeholders and passed through [DB.Rebind]; the few statements that
// differ switch on [DB.Dialect]. Every store's tables come from migration
// files, one set per dialect, embedded in the binary.
//
// # Why SQLite has one writer
//
// SQLite lets one connection write at a time, and a transaction that
// starts reading and later writes can find the lock taken and fail with
// SQLITE_BUSY — even after waiting, when two such transactions wait for
// each other. Open therefore sets, for SQLite: WAL journaling (readers do
// not block the writer), busy_timeout 5s (a writer waits for the lock
// rather than failing), BEGIN IMMEDIATE for every transaction (the write
// lock is taken at the start, so two writers queue instead of
// deadlocking), and by default a pool of one connection, so the
// goroutines of one process queue in database/sql, in order, without
// touching the lock at all. Other processes on the same file queue on the
// busy timeout; what still fails with SQLITE_BUSY is retried by InTx.
//
// The queue is also what makes one writer fast: the InTx transactions
// that wait while one runs are run together, each in a savepoint, and
// committed once (group commit, [WithGroupCommit]), so that the pages
// they share are written to the WAL once per group, not once each.
//
// The price of one connection: inside [DB.InTx] the transaction holds the
// pool's only connection, so a function that queries db instead of tx
// waits until its context ends. Always use the tx you are given, or
// [TxFrom](ctx).
//
// # Migrations
//
// A component (a store of this runtime, "keiyaku.outbox", or a service's
// own schema) keeps files NNN_name.sql under one directory per dialect:
//
//	migrations/sqlite/001_create_reservations.sql
//	migrations/postgres/001_create_reservations.sql
//
// [DB.Migrate] applies the pending ones in one transaction and records
// each in keiyaku_migrations with its SHA-256; a file changed after it was
// applied stops the start with [ErrMigrationChanged]. Several instances
// starting together are safe: a PostgreSQL advisory lock (per schema), or
// SQLite's write lock, lets one apply and the others find the work done.
//
// # Transactions
//
// [DB.InTx] commits when its function returns nil and rolls back
// otherwise, retrying serialization failures, deadlocks and SQLITE_BUSY a
// few times with backoff; the function may therefore run more than once.
// The context given to the function carries the transaction: a consumer's
// handler run by [Processed.Process] finds it with [TxFrom], and an
// InTx nested in another on the same DB joins the outer transaction.
package sqldb
