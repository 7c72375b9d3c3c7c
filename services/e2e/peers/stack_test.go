//go:build peers

package peers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keiyaku/keiyaku/services/demo/stack"
	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/room"
)

// startStack runs the reference system for the length of t with opts; the
// services' warnings go to a file printed when t fails.
func startStack(t *testing.T, opts ...stack.Option) *stack.Stack {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "services.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, dir, append([]stack.Option{stack.WithLogger(logger)}, opts...)...)
	if err != nil {
		_ = logFile.Close()
		t.Fatalf("start the reference system: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Close(cctx); err != nil {
			t.Errorf("close the reference system: %v", err)
		}
		_ = logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil && len(b) > 0 {
				t.Logf("services' warnings:\n%s", b[max(0, len(b)-8<<10):])
			}
		}
	})
	return s
}

// book makes n reservations, one night each on the seeded rooms, and
// returns their ids; each must answer 201.
func book(t *testing.T, s *stack.Stack, n int) []string {
	t.Helper()
	client, err := s.Client(&http.Client{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rooms := []string{room.DoubleRoomID, room.SingleRoomID, room.TwinRoomID, room.SuiteRoomID}
	first := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 1, 0)
	ids := make([]string, n)
	for i := range n {
		in := first.AddDate(0, 0, i/len(rooms))
		res, err := client.Book(t.Context(), uuid.NewString(), stack.Booking{
			Member: member.ActiveMemberID, Room: rooms[i%len(rooms)],
			CheckIn: in, CheckOut: in.AddDate(0, 0, 1), Guests: 1,
		})
		if err != nil {
			t.Fatalf("book %d: %v", i, err)
		}
		if res.Status != http.StatusCreated {
			t.Fatalf("book %d: %d %s", i, res.Status, res.Problem)
		}
		ids[i] = res.ID
	}
	return ids
}

// scrape returns the body of GET /metrics of service, as Prometheus asks
// for it.
func scrape(t *testing.T, s *stack.Stack, service string) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL(service)+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", service, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %d, %v", service, resp.StatusCode, err)
	}
	return body
}
