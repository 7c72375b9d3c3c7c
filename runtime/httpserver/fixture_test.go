package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/keiyaku/keiyaku/runtime/httpserver"
	"github.com/keiyaku/keiyaku/runtime/httpserver/httpservertest"
	roomv1 "github.com/keiyaku/keiyaku/runtime/httpserver/internal/roomv1"
	"github.com/keiyaku/keiyaku/runtime/idempotency"
	"github.com/keiyaku/keiyaku/runtime/problem"
)

// Room ids with a meaning for roomService.
const (
	knownRoom   = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
	otherRoom   = "11111111-1111-1111-1111-111111111111"
	busyRoom    = "22222222-2222-2222-2222-222222222222" // every hold conflicts
	panicRoom   = "00000000-0000-0000-0000-00000000dead" // GetRoom panics
	missingRoom = "33333333-3333-3333-3333-333333333333" // does not exist
	failingResv = "55555555-5555-5555-5555-555555555555" // CreateRoomHold fails with an internal error
	hugeResv    = "66666666-6666-6666-6666-666666666666" // CreateRoomHold answers a big (invalid) body
	reservation = "9c8b7a6d-5e4f-4321-8fed-cba987654321"
	secret      = "db-password-hunter2 at 10.0.0.7"
)

// roomService implements the generated StrictServerInterface of the room
// contract, with behaviours chosen by id.
type roomService struct {
	creates atomic.Int64 // CreateRoomHold calls
	calls   atomic.Int64 // every call

	// When entered is set, CreateRoomHold signals it and waits for
	// release before answering.
	entered chan struct{}
	release chan struct{}
}

var _ roomv1.StrictServerInterface = (*roomService)(nil)

func mustUUID(s string) openapi_types.UUID {
	var id openapi_types.UUID
	if err := id.UnmarshalText([]byte(s)); err != nil {
		panic(err)
	}
	return id
}

func (s *roomService) GetRoom(_ context.Context, req roomv1.GetRoomRequestObject) (roomv1.GetRoomResponseObject, error) {
	s.calls.Add(1)
	switch req.RoomId.String() {
	case panicRoom:
		panic("boom: " + secret)
	case missingRoom:
		return nil, problem.NotFound("room " + missingRoom + " was not found")
	}
	return roomv1.GetRoom200JSONResponse{
		Id: req.RoomId, Number: "0412", Type: roomv1.RoomTypeDouble, Capacity: 2,
		NightlyRate: roomv1.Money{Amount: "18000.00", Currency: "JPY"},
	}, nil
}

func (s *roomService) GetRoomAvailability(_ context.Context, req roomv1.GetRoomAvailabilityRequestObject) (roomv1.GetRoomAvailabilityResponseObject, error) {
	s.calls.Add(1)
	if !req.Params.CheckOut.After(req.Params.CheckIn.Time) {
		return nil, problem.BadRequest("checkOut must be after checkIn",
			problem.FieldError{Field: "query.checkOut", Reason: "must be after checkIn"})
	}
	return roomv1.GetRoomAvailability200JSONResponse{
		RoomId: req.RoomId, CheckIn: req.Params.CheckIn, CheckOut: req.Params.CheckOut,
		Available: req.RoomId.String() != busyRoom,
	}, nil
}

func (s *roomService) CreateRoomHold(ctx context.Context, req roomv1.CreateRoomHoldRequestObject) (roomv1.CreateRoomHoldResponseObject, error) {
	s.calls.Add(1)
	n := s.creates.Add(1)
	if s.entered != nil {
		s.entered <- struct{}{}
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	b := req.Body
	switch {
	case req.RoomId.String() == missingRoom:
		return roomv1.CreateRoomHold404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: roomv1.NotFoundApplicationProblemPlusJSONResponse{
			Type: problem.TypeBlank, Title: "Not Found", Status: 404,
		}}, nil
	case req.RoomId.String() == busyRoom:
		return nil, problem.Conflict("room " + busyRoom + " is not available")
	case b.ReservationId.String() == failingResv:
		return nil, errors.New("insert hold: " + secret)
	case !b.CheckOut.After(b.CheckIn.Time):
		return nil, problem.Unprocessable("checkOut must be after checkIn",
			problem.FieldError{Field: "body.checkOut", Reason: "must be after checkIn"})
	}
	hold := roomv1.CreateRoomHold201JSONResponse{
		Id:            mustUUID(fmt.Sprintf("1b2c3d4e-5f60-4718-a9b0-%012d", n)),
		RoomId:        req.RoomId,
		ReservationId: b.ReservationId,
		CheckIn:       b.CheckIn,
		CheckOut:      b.CheckOut,
		Status:        roomv1.HoldStatusHeld,
		ExpiresAt:     time.Date(2025, 6, 20, 10, 15, 0, 0, time.UTC),
	}
	if b.ReservationId.String() == hugeResv {
		return hugeHold{hold}, nil
	}
	return hold, nil
}

// hugeHold answers 201 with a body of more than 1 MiB.
type hugeHold struct {
	roomv1.CreateRoomHold201JSONResponse
}

func (h hugeHold) VisitCreateRoomHoldResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, err := w.Write(bytes.Repeat([]byte(" "), 2<<20))
	return err
}

func (s *roomService) ReleaseRoomHold(context.Context, roomv1.ReleaseRoomHoldRequestObject) (roomv1.ReleaseRoomHoldResponseObject, error) {
	s.calls.Add(1)
	return roomv1.ReleaseRoomHold204Response{}, nil
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	spec, err := roomv1.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// fixture is the room API assembled as a service would assemble it.
type fixture struct {
	svc    *roomService
	store  *idempotency.MemoryStore
	server *httpserver.Server
	logs   *syncBuffer
	url    string
}

type fixtureConfig struct {
	noValidator bool                // serve the generated handler without Validator
	unchecked   bool                // do not hold responses to the contract
	svc         *roomService        // nil: a fresh one
	opts        []httpserver.Option // extra server options
	idemOpts    []httpserver.IdempotencyOption
}

// apiHandler assembles validation, idempotency and the generated handler
// with the error hooks.
func apiHandler(t testing.TB, spec *openapi3.T, svc roomv1.StrictServerInterface, store idempotency.Store, logger *slog.Logger, withValidator bool, idemOpts ...httpserver.IdempotencyOption) http.Handler {
	t.Helper()
	strict := roomv1.NewStrictHandlerWithOptions(svc, nil, roomv1.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  httpserver.RequestErrorHandler,
		ResponseErrorHandlerFunc: httpserver.ResponseErrorHandler(logger),
	})
	api := roomv1.HandlerWithOptions(strict, roomv1.StdHTTPServerOptions{ErrorHandlerFunc: httpserver.ParamErrorHandler})
	idem, err := httpserver.Idempotency(store, append([]httpserver.IdempotencyOption{httpserver.WithIdempotencyLogger(logger)}, idemOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if !withValidator {
		return httpserver.Chain(api, idem)
	}
	validate, err := httpserver.Validator(spec)
	if err != nil {
		t.Fatal(err)
	}
	return httpserver.Chain(api, validate, idem)
}

// newFixture serves the room API over loopback HTTP.
func newFixture(t *testing.T, fc fixtureConfig) *fixture {
	t.Helper()
	spec := loadSpec(t)
	f := &fixture{svc: fc.svc, logs: &syncBuffer{}}
	if f.svc == nil {
		f.svc = &roomService{}
	}
	store, err := idempotency.NewMemoryStore()
	if err != nil {
		t.Fatal(err)
	}
	f.store = store
	logger := slog.New(slog.NewTextHandler(f.logs, nil))
	api := apiHandler(t, spec, f.svc, store, logger, !fc.noValidator, fc.idemOpts...)
	f.server, err = httpserver.New(api, append([]httpserver.Option{httpserver.WithLogger(logger)}, fc.opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if fc.unchecked {
		srv := httptest.NewServer(f.server.Handler())
		t.Cleanup(srv.Close)
		f.url = srv.URL
	} else {
		f.url = httpservertest.NewServer(t, spec, f.server.Handler()).URL
	}
	return f
}

// response is a response read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) problem(t *testing.T) problem.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("Content-Type = %q, want %q; body %s", ct, problem.ContentType, r.body)
	}
	var p problem.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	if p.Status != r.status || p.Type == "" || p.Title == "" {
		t.Errorf("problem %+v: want status %d, a type and a title", p, r.status)
	}
	return p
}

func hasField(p problem.Problem, field string) bool {
	for _, e := range p.Errors {
		if e.Field == field {
			return true
		}
	}
	return false
}

// send sends a request and reads the whole response. Unlike do, it may
// be called from any goroutine.
func send(ctx context.Context, method, url string, header http.Header, body io.Reader) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return response{}, err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", method, url, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}, nil
}

// do sends a request and reads the whole response, failing the test on a
// transport error. Call it from the test goroutine only.
func do(t *testing.T, method, url string, header http.Header, body io.Reader) response {
	t.Helper()
	res, err := send(t.Context(), method, url, header, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return res
}

// goPost posts a hold from another goroutine; a transport error comes
// back as status 0 with the error text as body.
func goPost(ctx context.Context, f *fixture, room, key, body string) response {
	res, err := send(ctx, http.MethodPost, f.url+"/rooms/"+room+"/holds", jsonHeader(key), strings.NewReader(body))
	if err != nil {
		return response{body: []byte(err.Error())}
	}
	return res
}

func holdBody(resv, in, out string) string {
	return fmt.Sprintf(`{"reservationId":%q,"checkIn":%q,"checkOut":%q}`, resv, in, out)
}

func jsonHeader(key string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	return h
}

func postHold(t *testing.T, f *fixture, room, key, body string) response {
	t.Helper()
	return do(t, http.MethodPost, f.url+"/rooms/"+room+"/holds", jsonHeader(key), strings.NewReader(body))
}

// apiHandlerNoIdempotency is the generated handler with the hooks, behind
// Validator when validate is set.
func apiHandlerNoIdempotency(t testing.TB, spec *openapi3.T, svc roomv1.StrictServerInterface, validate bool) http.Handler {
	t.Helper()
	strict := roomv1.NewStrictHandlerWithOptions(svc, nil, roomv1.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  httpserver.RequestErrorHandler,
		ResponseErrorHandlerFunc: httpserver.ResponseErrorHandler(nil),
	})
	api := roomv1.HandlerWithOptions(strict, roomv1.StdHTTPServerOptions{ErrorHandlerFunc: httpserver.ParamErrorHandler})
	if !validate {
		return api
	}
	v, err := httpserver.Validator(spec)
	if err != nil {
		t.Fatal(err)
	}
	return httpserver.Chain(api, v)
}
