// Package notification is the notification service of the
// hotel-reservation reference system (contracts/notification/v1). It
// consumes the reservation events (consumer group
// notification.reservation-notices) and tells the member: a
// ReservationCreated sends a "reservation-confirmed" e-mail, a
// ReservationCancelled a "reservation-cancelled" one.
//
// Sending is simulated: the message is written to the notifications table
// and logged (message "email sent", with the member, the reservation, the
// subject and the trace id of the event). GET /notifications?memberId=…
// lists what a member was sent, most recent first, up to limit items
// (default 20, at most 100).
//
// Each notification records the id of the event that caused it, in the
// same transaction that records the event as processed
// (runtime/sqldb.NewProcessed), and the event id is unique in the table:
// a redelivered event never sends a second e-mail. The service has no
// synchronous dependency and reads only its own database; it knows the
// member by id, not by address.
package notification
