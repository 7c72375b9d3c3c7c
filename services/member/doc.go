// Package member is the member service of the hotel-reservation reference
// system (contracts/member/v1). It owns the hotel loyalty members and
// answers GET /members/{memberId}, which the reservation service calls to
// check that a member exists and is active before it books.
//
// It also keeps each member's reservation history from the reservation
// events (onReservationCreated, onReservationCancelled of
// contracts/member/v1/asyncapi.yaml, consumer group
// member.reservation-history): ReservationCreated adds the stay,
// ReservationCancelled marks it cancelled. Delivery is at least once and
// the handlers are idempotent: each event id is recorded in the same
// transaction as the history row (runtime/sqldb.NewProcessed), so a
// redelivered event changes nothing, and the history rows are upserts
// keyed by reservation id, so an old ReservationCreated delivered after the
// cancellation does not bring the stay back.
//
// The service reads only its own database. Its migrations create the
// tables; the members the demo and the tests use — [ActiveMemberID] and
// [OtherActiveMemberID] (active), [SuspendedMemberID] and
// [WithdrawnMemberID] — are inserted only with [Config.DemoData] (the demo,
// tests, DEMO_DATA=true for the binary), never in production.
package member
