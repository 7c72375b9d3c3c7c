package reservation

import (
	"context"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
	"github.com/keiyaku/keiyaku/runtime/httpserver/httpservertest"
	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/sqldb/sqldbtest"
)

// TestKafkaDown pins the outbox promise: with no broker reachable the
// service still takes reservations — the event waits in the outbox — and
// once a broker is there the relay publishes it; nothing is lost.
func TestKafkaDown(t *testing.T) {
	t.Parallel()
	for _, b := range sqldbtest.Backends(os.Getenv(apptest.EnvPostgresDSN)) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			// An address where no broker listens yet.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			_ = ln.Close()
			kafka := app.KafkaConfig{Client: events.ClientConfig{Brokers: []string{addr}}}

			members, _ := serveMember(t, &fakeMember{statuses: map[string]memberv1.MemberStatus{activeMember: memberv1.MemberStatusActive}})
			rooms, _ := serveRoom(t, newFakeRoom())
			svc, err := New(ctx, Config{
				ListenAddr: "127.0.0.1:0", DatabaseURL: b.DSN(t), Kafka: kafka,
				MemberURL: members.URL, RoomURL: rooms.URL,
			}, WithClock(testClock), WithRelayOptions(outbox.WithBackoff(10*time.Millisecond, 100*time.Millisecond), outbox.WithSendTimeout(2*time.Second)))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			apptest.Run(t, svc)
			spec, err := reservationv1.GetSpec()
			if err != nil {
				t.Fatal(err)
			}
			client, err := reservationv1.NewClientWithResponses(httpservertest.NewServer(t, spec, svc.Handler()).URL)
			if err != nil {
				t.Fatal(err)
			}

			cctx, cancel := context.WithTimeout(ctx, waitTimeout)
			defer cancel()
			resp, err := client.CreateReservationWithResponse(cctx, &reservationv1.CreateReservationParams{IdempotencyKey: newKey()},
				request(activeMember, doubleRoom, "2025-07-01", "2025-07-04", 2))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != http.StatusCreated {
				t.Fatalf("with Kafka down: %d %s, want 201", resp.StatusCode(), resp.Body)
			}
			if n, err := svc.outbox.Pending(ctx); err != nil || n != 1 {
				t.Fatalf("Pending = %d, %v; want the event waiting", n, err)
			}

			broker, err := embedded.Start(ctx, embedded.WithAddr(addr),
				embedded.WithTopics(embedded.Topic{Name: reservationv1.ReservationCreatedEvent.Topic, Partitions: 6}))
			if err != nil {
				t.Skipf("cannot listen again on %s: %v", addr, err)
			}
			t.Cleanup(broker.Close)
			apptest.Wait(t, waitTimeout, "the outbox to be sent", func() (bool, error) {
				n, err := svc.outbox.Pending(ctx)
				return n == 0, err
			})
			recs := consume(t, kafka, reservationv1.ReservationCreatedEvent.Topic, resp.JSON201.Id.String(), 1)
			var evt reservationv1.ReservationCreated
			if err := decoder(t, kafka).Decode(ctx, recs[0].Value, reservationv1.ReservationCreatedSchema, &evt); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if evt.ReservationID != resp.JSON201.Id.String() || evt.MemberID != activeMember {
				t.Errorf("event = %+v", evt)
			}
		})
	}
}
