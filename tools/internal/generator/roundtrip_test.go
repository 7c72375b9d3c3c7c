package generator_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
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
