package reservation

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/httpserver/httpservertest"
	"github.com/keiyaku/keiyaku/runtime/problem"
)

// The neighbours of the reservation service in its component tests: the
// generated member and room servers on loopback, with scripted answers,
// every answer checked against their contracts, behind a gate that can
// take them down.

// gate counts the requests that reach a neighbour and, while down,
// answers them all 503 as a load balancer with no healthy backend would.
type gate struct {
	next        http.Handler
	down        atomic.Bool
	hits        atomic.Int64
	mu          sync.Mutex
	traceparent []string // of every request, in order
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.hits.Add(1)
	g.mu.Lock()
	g.traceparent = append(g.traceparent, r.Header.Get("traceparent"))
	g.mu.Unlock()
	if g.down.Load() {
		problem.Write(w, problem.Unavailable("no healthy backend"))
		return
	}
	g.next.ServeHTTP(w, r)
}

func (g *gate) traceparents() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.traceparent...)
}

// fakeMember answers GET /members/{id} from a fixed table.
type fakeMember struct {
	statuses map[string]memberv1.MemberStatus
}

func (f *fakeMember) GetMember(_ context.Context, req memberv1.GetMemberRequestObject) (memberv1.GetMemberResponseObject, error) {
	status, ok := f.statuses[req.MemberId.String()]
	if !ok {
		return nil, problem.NotFound(fmt.Sprintf("member %s was not found", req.MemberId))
	}
	return memberv1.GetMember200JSONResponse{
		Id: req.MemberId, Name: "Test Member", Email: "member@example.com",
		Status: status, Tier: memberv1.MemberTierStandard,
	}, nil
}

// fakeRoom serves a fixed inventory and keeps holds in memory: a room in
// taken refuses every hold with 409; a hold request with an
// Idempotency-Key seen before gets the same hold back, as the real room
// service does.
type fakeRoom struct {
	rooms map[string]roomv1.Room
	taken map[string]bool

	mu       sync.Mutex
	holds    map[string]roomv1.Hold // by Idempotency-Key
	requests []string               // Idempotency-Key of every hold request
	released []string               // hold ids
}

func newFakeRoom() *fakeRoom {
	room := func(id string, capacity int32, rate string) roomv1.Room {
		return roomv1.Room{Id: uuid.MustParse(id), Number: "0412", Type: roomv1.RoomTypeDouble, Capacity: capacity,
			NightlyRate: roomv1.Money{Amount: rate, Currency: "JPY"}}
	}
	return &fakeRoom{
		rooms: map[string]roomv1.Room{
			doubleRoom: room(doubleRoom, 2, "18000.00"),
			suiteRoom:  room(suiteRoom, 4, "52000.50"),
			takenRoom:  room(takenRoom, 2, "9000.00"),
		},
		taken: map[string]bool{takenRoom: true},
		holds: map[string]roomv1.Hold{},
	}
}

func (f *fakeRoom) GetRoom(_ context.Context, req roomv1.GetRoomRequestObject) (roomv1.GetRoomResponseObject, error) {
	r, ok := f.rooms[req.RoomId.String()]
	if !ok {
		return nil, problem.NotFound(fmt.Sprintf("room %s was not found", req.RoomId))
	}
	return roomv1.GetRoom200JSONResponse(r), nil
}

func (f *fakeRoom) GetRoomAvailability(context.Context, roomv1.GetRoomAvailabilityRequestObject) (roomv1.GetRoomAvailabilityResponseObject, error) {
	return nil, problem.Internal() // the reservation service never asks
}

func (f *fakeRoom) CreateRoomHold(_ context.Context, req roomv1.CreateRoomHoldRequestObject) (roomv1.CreateRoomHoldResponseObject, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := req.Params.IdempotencyKey
	f.requests = append(f.requests, key)
	id := req.RoomId.String()
	if _, ok := f.rooms[id]; !ok {
		return nil, problem.NotFound(fmt.Sprintf("room %s was not found", id))
	}
	if f.taken[id] {
		return nil, problem.Conflict(fmt.Sprintf("room %s is not available", id))
	}
	if h, ok := f.holds[key]; ok {
		return roomv1.CreateRoomHold201JSONResponse(h), nil
	}
	h := roomv1.Hold{
		Id: uuid.New(), RoomId: req.RoomId, ReservationId: req.Body.ReservationId,
		CheckIn: req.Body.CheckIn, CheckOut: req.Body.CheckOut,
		Status: roomv1.HoldStatusHeld, ExpiresAt: time.Now().Add(15 * time.Minute).UTC(),
	}
	f.holds[key] = h
	return roomv1.CreateRoomHold201JSONResponse(h), nil
}

func (f *fakeRoom) ReleaseRoomHold(_ context.Context, req roomv1.ReleaseRoomHoldRequestObject) (roomv1.ReleaseRoomHoldResponseObject, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, req.HoldId.String())
	return roomv1.ReleaseRoomHold204Response{}, nil
}

// holdRequests returns the Idempotency-Keys of the hold requests so far.
func (f *fakeRoom) holdRequests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *fakeRoom) releasedHolds() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.released...)
}

func (f *fakeRoom) holdCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.holds)
}

// serveMember starts the fake member service.
func serveMember(t *testing.T, f *fakeMember) (*httptest.Server, *gate) {
	t.Helper()
	spec, err := memberv1.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	strict := memberv1.NewStrictHandlerWithOptions(f, nil, memberv1.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  httpserver.RequestErrorHandler,
		ResponseErrorHandlerFunc: httpserver.ResponseErrorHandler(nil),
	})
	g := &gate{next: httpservertest.Handler(t, spec,
		memberv1.HandlerWithOptions(strict, memberv1.StdHTTPServerOptions{ErrorHandlerFunc: httpserver.ParamErrorHandler}))}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv, g
}

// serveRoom starts the fake room service.
func serveRoom(t *testing.T, f *fakeRoom) (*httptest.Server, *gate) {
	t.Helper()
	spec, err := roomv1.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	strict := roomv1.NewStrictHandlerWithOptions(f, nil, roomv1.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  httpserver.RequestErrorHandler,
		ResponseErrorHandlerFunc: httpserver.ResponseErrorHandler(nil),
	})
	g := &gate{next: httpservertest.Handler(t, spec,
		roomv1.HandlerWithOptions(strict, roomv1.StdHTTPServerOptions{ErrorHandlerFunc: httpserver.ParamErrorHandler}))}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv, g
}

// date returns a contract date.
func date(s string) openapi_types.Date {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return openapi_types.Date{Time: d}
}
