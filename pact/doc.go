// Package pact holds the Pact contract tests between the reference
// services, and the one helper they share: [JSONView], the JSON form of an
// Avro record that message pacts carry.
//
// The tests sit behind the build tag "pact", because pact-go needs the
// native libpact_ffi (0.4.x): "make pact-install" puts it into .pact/lib
// and "make pact-test" runs them with the environment pact-go needs.
//
//   - HTTP (consumer Reservation → providers Member and Room): the consumer
//     tests call the pact mock server through the generated clients and
//     write pacts/reservation-member.json and pacts/reservation-room.json;
//     the provider tests verify those files against the real handlers of
//     services/member and services/room, on loopback, with provider states
//     set up through the services' own data and API.
//   - Messages (consumers Member, Room, Notification ← provider
//     Reservation): the contents are the JSON view of the Avro record; the
//     consumer tests decode it with the consumer's generated schema, encode
//     it as Avro and feed it through Kafka (an embedded broker) to the real
//     service, which must handle it without dead-lettering it; the provider
//     test builds each message with the reservation service's encoding path
//     (reservationv1.Publisher over app.NewProducer) and decodes the Avro
//     back to its JSON view for comparison.
//
// The consumer tests write their pacts into KEIYAKU_PACT_DIR when it is
// set ("make pacts" sets it to pacts/; "make pacts-check" to a temporary
// folder it diffs with pacts/), and nowhere else; the provider tests
// always verify the committed files in pacts/.
package pact
