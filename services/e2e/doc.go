// Package e2e holds the end-to-end and reliability tests of the
// hotel-reservation reference system: the four services and the embedded
// Kafka-protocol broker running together (services/demo/stack), each
// service with its own database — SQLite files in the test's folder, and
// with KEIYAKU_TEST_POSTGRES_DSN set the same tests again on PostgreSQL, a
// schema per service per test — talking over real TCP.
//
// The tests drive the system only through its public APIs and the broker,
// as clients and operators do, and audit the effects in each service's own
// database afterwards:
//
//   - TestFlow: a reservation, its synchronous checks, its event reaching
//     the three consumers under one trace id, its cancellation;
//   - TestR1ConsumerKilled: a consumer process killed (SIGKILL) and
//     restarted 5 times while events flow: every event's side effect
//     happens exactly once;
//   - TestR2BrokerDown: the broker stopped while reservations are made:
//     every event is delivered after it returns, none lost, none
//     duplicated in effect;
//   - TestR3RoomDown: the room service stopped under load: the breaker
//     opens, attempts on room stay within 1.1 × the requests, the system
//     recovers after the restart, and a POST retried with its
//     Idempotency-Key makes one reservation.
//
// The sizes the issue asks for (R1 ≥ 10,000 events, R2 ≥ 1,000
// reservations) run with -e2e.full; by default the tests use smaller
// sizes so that `make test` stays reasonable on two cores.
package e2e
