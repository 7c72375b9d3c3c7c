package verify_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/notification"
	"github.com/keiyaku/keiyaku/services/reservation"
	"github.com/keiyaku/keiyaku/services/room"
)

// service is one reference service serving on a loopback listener.
type service struct {
	name string
	url  string
}

// serve serves h on a listener bound once on 127.0.0.1:0 and returns its
// base URL; the server closes when the test ends.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// closer is what the services' New returns.
type closer interface {
	Handler() http.Handler
	Close() error
}

// startServices builds the four reference services as their mains do —
// real SQLite databases, the real HTTP chain (validation, idempotency,
// problem+json) — and serves each on its own loopback listener; the
// reservation service calls the real member and room services. The
// embedded broker is there for the Kafka clients they make; nothing is
// consumed or relayed.
func startServices(t testing.TB) []service {
	t.Helper()
	ctx := context.Background()
	broker, err := embedded.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	kafka := app.KafkaConfig{Client: events.ClientConfig{Brokers: broker.Addrs()}}
	dir := t.TempDir()
	keep := func(name string, s closer, err error) http.Handler {
		t.Helper()
		if err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s.Handler()
	}
	db := func(name string) string { return filepath.Join(dir, name+".db") }

	m, err := member.New(ctx, member.Config{ListenAddr: "127.0.0.1:0", DatabaseURL: db("member"), Kafka: kafka, DemoData: true})
	memberURL := serve(t, keep("member", m, err))
	r, err := room.New(ctx, room.Config{ListenAddr: "127.0.0.1:0", DatabaseURL: db("room"), Kafka: kafka, DemoData: true})
	roomURL := serve(t, keep("room", r, err))
	n, err := notification.New(ctx, notification.Config{ListenAddr: "127.0.0.1:0", DatabaseURL: db("notification"), Kafka: kafka})
	notificationURL := serve(t, keep("notification", n, err))
	rs, err := reservation.New(ctx, reservation.Config{ListenAddr: "127.0.0.1:0", DatabaseURL: db("reservation"), Kafka: kafka, MemberURL: memberURL, RoomURL: roomURL})
	reservationURL := serve(t, keep("reservation", rs, err))
	// The reservation service first: its example books the room of the
	// room contract's example hold for the same nights.
	return []service{
		{"reservation", reservationURL},
		{"member", memberURL},
		{"room", roomURL},
		{"notification", notificationURL},
	}
}
