// Package reservation is the reservation service of the hotel-reservation
// reference system (contracts/reservation/v1): it books rooms for members.
//
// POST /reservations decides at once, with two synchronous calls, and
// leaves the side effects to events:
//
//  1. it asks the member service for the member (the generated
//     reservationv1.NewMemberClient): active goes on; suspended or
//     withdrawn is 422; unknown is 404;
//  2. it asks the room service for the room (capacity and nightly rate:
//     more guests than the room holds is 422, an unknown room 404) and
//     holds it for the nights (reservationv1.NewRoomClient, POST
//     /rooms/{id}/holds): a night already held is 409;
//  3. it stores the reservation and its ReservationCreated event in one
//     database transaction — the event goes to the outbox table
//     (runtime/outbox), which a relay publishes to Kafka — and answers 201
//     with the Location of the reservation.
//
// A stay is 1 to 365 nights; checkOut not after checkIn is 400, a longer
// stay 422. GET /reservations/{id} answers a reservation whatever its
// status. POST /reservations/{id}/cancel marks it cancelled and stores its
// ReservationCancelled event the same way (a second cancel is 409), then
// releases the room hold; if the room service cannot be reached the
// release is left to the room service's own handling of the event.
//
// # Idempotency
//
// POST /reservations requires an Idempotency-Key: the same key and body
// replay the stored answer, the same key with another body is 422
// (runtime/httpserver.Idempotency, records in the service's database). The
// reservation id is derived from the key and the request, and the hold is
// placed with the Idempotency-Key "rsv-<reservation id>": a retry after a
// failure that released the key (a 5xx) holds the same room with the same
// key, which the room service answers with the same hold, and creates the
// same reservation, once. A hold whose reservation was never stored is
// not released — a retry may still need it — and expires on its own (see
// package room).
//
// # When a neighbour is down
//
// Each dependency has its own fallback, by design:
//
//   - Member: a member's status changes rarely, so when the member service
//     cannot answer (connection refused, timeouts, 502/503/504 after the
//     retries of keiyaku.yaml's policy, or its circuit breaker open) the
//     client serves its last good answer for that member, at most 5
//     minutes old (fallback: last-good, fallback_ttl: 5m), marked
//     Keiyaku-Fallback; the service uses it and logs that it did. Without
//     such an answer the reservation is refused with 503.
//   - Room: availability must be exact, so there is no fallback: when the
//     room service cannot answer the reservation is refused with 503, and
//     once its circuit breaker is open (3 failures in a row) at once,
//     without calling it, so that requests do not pile up behind a dead
//     neighbour. A room failure is never answered 500.
//   - Kafka: events wait in the outbox and are published when the brokers
//     are back; reservations are still taken. Without a schema registry
//     nothing in the request path needs the brokers.
//
// The calls carry the W3C trace context of the request, as do the events.
package reservation
