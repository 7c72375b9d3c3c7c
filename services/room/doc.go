// Package room is the room service of the hotel-reservation reference
// system (contracts/room/v1). It owns the room inventory and answers, from
// its own database and nothing else, whether a room is free:
//
//   - GET /rooms/{roomId}: the room, its capacity and nightly rate;
//   - GET /rooms/{roomId}/availability: whether every night from checkIn
//     to checkOut is free — exact, never cached;
//   - POST /rooms/{roomId}/holds: block the nights for a reservation
//     (409 when any night overlaps an active hold), idempotent through the
//     Idempotency-Key header (records kept in the database);
//   - DELETE /rooms/{roomId}/holds/{holdId}: release a hold.
//
// # Holds and their expiry
//
// A stay occupies the nights [checkIn, checkOut). A hold blocks them while
// it is active: status confirmed, or status held and its expiresAt not yet
// passed. A new hold is created held, expiring after the hold TTL (15
// minutes unless [WithHoldTTL] says otherwise). The reservation service
// holds the room before it records the reservation; the ReservationCreated
// event then confirms the hold for good. A hold that is never confirmed —
// the reservation failed after the hold was placed, or the client gave
// up — stops blocking the room at expiresAt, with no clean-up job:
// availability and new holds simply ignore expired holds. An expired hold
// that its ReservationCreated still reaches is confirmed nonetheless (the
// reservation exists); if the nights were given to another hold meanwhile
// the double booking is logged as an error. Keep the TTL well above the
// time the reservation events take to arrive.
//
// # Events
//
// The service consumes the reservation events (consumer group
// room.availability): ReservationCreated confirms the reservation's hold
// (or records a confirmed booking if the hold is unknown), and
// ReservationCancelled releases every hold of the reservation. Each event
// id is recorded in the transaction of those changes, so a redelivered
// event changes nothing.
//
// With [Config.DemoData] (the demo, tests, DEMO_DATA=true for the binary)
// the service inserts four demo rooms: [DoubleRoomID], [SingleRoomID],
// [TwinRoomID] and [SuiteRoomID]. The migrations insert none.
package room
