package generator_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/resilience"
)

// holdServer implements the generated strict interface of the Room
// contract: one room, holds that block their dates.
type holdServer struct {
	room roomv1.Room

	mu    sync.Mutex
	holds map[openapi_types.UUID]roomv1.Hold
	keys  map[string]openapi_types.UUID // Idempotency-Key → hold
}

func (s *holdServer) GetRoom(_ context.Context, req roomv1.GetRoomRequestObject) (roomv1.GetRoomResponseObject, error) {
	if req.RoomId != s.room.Id {
		return roomv1.GetRoom404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: roomv1.NotFoundApplicationProblemPlusJSONResponse{Title: "Not Found", Status: 404}}, nil
	}
	return roomv1.GetRoom200JSONResponse(s.room), nil
}

func (s *holdServer) GetRoomAvailability(_ context.Context, req roomv1.GetRoomAvailabilityRequestObject) (roomv1.GetRoomAvailabilityResponseObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return roomv1.GetRoomAvailability200JSONResponse{
		RoomId:    req.RoomId,
		CheckIn:   req.Params.CheckIn,
		CheckOut:  req.Params.CheckOut,
		Available: !s.overlaps(req.Params.CheckIn.Time, req.Params.CheckOut.Time),
	}, nil
}

func (s *holdServer) overlaps(in, out time.Time) bool {
	for _, h := range s.holds {
		if in.Before(h.CheckOut.Time) && h.CheckIn.Time.Before(out) {
			return true
		}
	}
	return false
}

func (s *holdServer) CreateRoomHold(_ context.Context, req roomv1.CreateRoomHoldRequestObject) (roomv1.CreateRoomHoldResponseObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.keys[req.Params.IdempotencyKey]; ok {
		return roomv1.CreateRoomHold201JSONResponse(s.holds[id]), nil
	}
	if s.overlaps(req.Body.CheckIn.Time, req.Body.CheckOut.Time) {
		return roomv1.CreateRoomHold409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: roomv1.ConflictApplicationProblemPlusJSONResponse{Title: "Conflict", Status: 409}}, nil
	}
	h := roomv1.Hold{
		Id: openapi_types.UUID{byte(len(s.holds) + 1)}, RoomId: req.RoomId, ReservationId: req.Body.ReservationId,
		CheckIn: req.Body.CheckIn, CheckOut: req.Body.CheckOut, Status: roomv1.HoldStatusHeld,
		ExpiresAt: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
	}
	s.holds[h.Id] = h
	s.keys[req.Params.IdempotencyKey] = h.Id
	return roomv1.CreateRoomHold201JSONResponse(h), nil
}

func (s *holdServer) ReleaseRoomHold(_ context.Context, req roomv1.ReleaseRoomHoldRequestObject) (roomv1.ReleaseRoomHoldResponseObject, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.holds, req.HoldId)
	return roomv1.ReleaseRoomHold204Response{}, nil
}

func date(s string) openapi_types.Date {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return openapi_types.Date{Time: t}
}

// TestRoundTrip pins that the generated code works end to end: a server on
// the generated strict interface answers the generated client over real
// loopback HTTP, with path, query and header parameters, a JSON body,
// typed success and problem+json error responses.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	srv := &holdServer{
		room: roomv1.Room{
			Id: openapi_types.UUID{0x42}, Number: "0412", Type: roomv1.RoomTypeDouble, Capacity: 2,
			NightlyRate: roomv1.Money{Amount: "180.00", Currency: "JPY"},
		},
		holds: map[openapi_types.UUID]roomv1.Hold{},
		keys:  map[string]openapi_types.UUID{},
	}
	mux := http.NewServeMux()
	handler := roomv1.HandlerFromMux(roomv1.NewStrictHandler(srv, nil), mux)
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)

	client, err := roomv1.NewClientWithResponses(ts.URL, roomv1.WithHTTPClient(ts.Client()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	got, err := client.GetRoomWithResponse(ctx, srv.room.Id)
	if err != nil {
		t.Fatal(err)
	}
	if got.StatusCode() != http.StatusOK || got.JSON200 == nil || *got.JSON200 != srv.room {
		t.Fatalf("GetRoom = %d %+v, want 200 %+v", got.StatusCode(), got.JSON200, srv.room)
	}

	missing, err := client.GetRoomWithResponse(ctx, openapi_types.UUID{0x99})
	if err != nil {
		t.Fatal(err)
	}
	if missing.StatusCode() != http.StatusNotFound || missing.ApplicationproblemJSON404 == nil || missing.ApplicationproblemJSON404.Status != 404 {
		t.Fatalf("GetRoom(unknown) = %d %s, want a 404 problem", missing.StatusCode(), missing.Body)
	}
	if ct := missing.HTTPResponse.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("404 Content-Type = %q, want application/problem+json", ct)
	}

	body := roomv1.CreateRoomHoldJSONRequestBody{ReservationId: openapi_types.UUID{0x7}, CheckIn: date("2026-12-24"), CheckOut: date("2026-12-26")}
	params := &roomv1.CreateRoomHoldParams{IdempotencyKey: "reservation-7-hold"}
	hold, err := client.CreateRoomHoldWithResponse(ctx, srv.room.Id, params, body)
	if err != nil {
		t.Fatal(err)
	}
	if hold.StatusCode() != http.StatusCreated || hold.JSON201 == nil || hold.JSON201.Status != roomv1.HoldStatusHeld || hold.JSON201.CheckIn != body.CheckIn {
		t.Fatalf("CreateRoomHold = %d %s, want 201 held", hold.StatusCode(), hold.Body)
	}
	replay, err := client.CreateRoomHoldWithResponse(ctx, srv.room.Id, params, body)
	if err != nil {
		t.Fatal(err)
	}
	if replay.JSON201 == nil || replay.JSON201.Id != hold.JSON201.Id {
		t.Fatalf("replayed CreateRoomHold = %d %s, want the same hold %s", replay.StatusCode(), replay.Body, hold.JSON201.Id)
	}
	taken, err := client.CreateRoomHoldWithResponse(ctx, srv.room.Id, &roomv1.CreateRoomHoldParams{IdempotencyKey: "reservation-8-hold"}, body)
	if err != nil {
		t.Fatal(err)
	}
	if taken.StatusCode() != http.StatusConflict || taken.ApplicationproblemJSON409 == nil {
		t.Fatalf("CreateRoomHold(taken) = %d %s, want a 409 problem", taken.StatusCode(), taken.Body)
	}

	avail, err := client.GetRoomAvailabilityWithResponse(ctx, srv.room.Id, &roomv1.GetRoomAvailabilityParams{CheckIn: date("2026-12-25"), CheckOut: date("2026-12-27")})
	if err != nil {
		t.Fatal(err)
	}
	if avail.JSON200 == nil || avail.JSON200.Available {
		t.Fatalf("availability over a held night = %s, want available=false", avail.Body)
	}
	if _, err := client.ReleaseRoomHoldWithResponse(ctx, srv.room.Id, hold.JSON201.Id); err != nil {
		t.Fatal(err)
	}
	avail, err = client.GetRoomAvailabilityWithResponse(ctx, srv.room.Id, &roomv1.GetRoomAvailabilityParams{CheckIn: date("2026-12-25"), CheckOut: date("2026-12-27")})
	if err != nil {
		t.Fatal(err)
	}
	if avail.JSON200 == nil || !avail.JSON200.Available {
		t.Fatalf("availability after release = %s, want available=true", avail.Body)
	}
}

// TestGeneratedResilientClient pins the constructor generated from the
// reservation service's uses entry for member (keiyaku.yaml: 3 attempts,
// last-good fallback): a 503 burst is retried to success, and when Member
// is down the last good answer is served, marked as a fallback.
func TestGeneratedResilientClient(t *testing.T) {
	t.Parallel()
	id := openapi_types.UUID{0x11}
	var (
		mu       sync.Mutex
		failures int // the next requests to answer 503
		down     bool
		calls    int
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		switch {
		case down:
			w.WriteHeader(http.StatusServiceUnavailable)
		case failures > 0:
			failures--
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id":%q,"name":"Aiko","email":"aiko@example.com","status":"active","tier":"gold"}`, id)
		}
	}))
	t.Cleanup(ts.Close)
	client, err := reservationv1.NewMemberClient(ts.URL, resilience.WithBackoff(time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	set := func(f int, d bool) {
		mu.Lock()
		defer mu.Unlock()
		failures, down, calls = f, d, 0
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return calls
	}

	set(2, false)
	got, err := client.GetMemberWithResponse(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.JSON200 == nil || got.JSON200.Status != memberv1.MemberStatusActive || count() != 3 {
		t.Fatalf("after two 503s: %d %s in %d calls, want the member in 3", got.StatusCode(), got.Body, count())
	}
	if resilience.IsFallback(got.HTTPResponse) {
		t.Error("a fresh answer is marked as a fallback")
	}

	set(0, true)
	got, err = client.GetMemberWithResponse(t.Context(), id)
	if err != nil {
		t.Fatalf("member down: %v, want the last good answer", err)
	}
	if got.JSON200 == nil || got.JSON200.Name != "Aiko" || !resilience.IsFallback(got.HTTPResponse) {
		t.Fatalf("member down: %d %s fallback=%v, want the last good member marked as a fallback",
			got.StatusCode(), got.Body, resilience.IsFallback(got.HTTPResponse))
	}
	if n := count(); n > 3 {
		t.Errorf("member down: %d calls, want at most the policy's 3 attempts", n)
	}
}
