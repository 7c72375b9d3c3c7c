package mock_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/embedded"
	"github.com/keiyaku/keiyaku/runtime/resilience"
	"github.com/keiyaku/keiyaku/services/member"
	"github.com/keiyaku/keiyaku/services/reservation"
	"github.com/keiyaku/keiyaku/services/room"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/mock"
	"github.com/keiyaku/keiyaku/tools/internal/report"
	"github.com/keiyaku/keiyaku/tools/internal/verify"
)

// contracts loads this repository's OpenAPI contracts through the
// workspace (keiyaku.yaml), by service name.
func contracts(t testing.TB) map[string]mock.Contract {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "..", config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	modules, err := mock.Select(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := mock.Load(t.Context(), cfg, modules, true)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]mock.Contract{}
	for _, c := range loaded {
		out[c.Module.Service] = c
	}
	return out
}

// serveMock serves the mock of a reference contract on a loopback
// listener (httptest binds 127.0.0.1:0 once), counting requests.
func serveMock(t testing.TB, c mock.Contract, opts ...mock.Option) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	h, err := mock.NewHandler(c.Doc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestMockHonoursTheContracts runs keiyaku verify against the mock of
// each reference contract: what the mock answers — examples, generated
// data, the validator's problems — is what the contract documents.
func TestMockHonoursTheContracts(t *testing.T) {
	t.Parallel()
	for name, c := range contracts(t) {
		srv, _ := serveMock(t, c)
		res, err := verify.HTTP(t.Context(), c.Doc, srv.URL, verify.WithFile(c.File))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range res.Findings {
			if f.Severity == report.Error {
				t.Errorf("%s: %s", name, f)
			}
		}
		if res.Cases == 0 {
			t.Errorf("%s: no requests", name)
		}
	}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func get(t *testing.T, method, url, body string, header ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return answer{resp.StatusCode, resp.Header, m}
}

// TestPrefer pins down how the Prefer header and validation steer the
// mock's answers.
func TestPrefer(t *testing.T) {
	t.Parallel()
	cs := contracts(t)
	members, _ := serveMock(t, cs["member"])
	rooms, _ := serveMock(t, cs["room"], mock.WithSeed(42))
	const id = member.ActiveMemberID
	holdBody := `{"reservationId":"9c8b7a6d-5e4f-4321-8fed-cba987654321","checkIn":"2025-07-01","checkOut":"2025-07-04"}`
	tests := []struct {
		name       string
		method     string
		url        string
		body       string
		header     []string
		wantStatus int
		check      func(t *testing.T, a answer)
	}{
		{"the example by default", "GET", members.URL + "/members/" + id, "", nil, 200, func(t *testing.T, a answer) {
			if a.body["name"] != "Hanako Yamada" || a.body["status"] != "active" {
				t.Errorf("body %v, want the Member example", a.body)
			}
		}},
		{"a documented error code", "GET", members.URL + "/members/" + id, "", []string{"Prefer", "code=404"}, 404, func(t *testing.T, a answer) {
			if a.header.Get("Content-Type") != "application/problem+json" || a.body["status"] != 404.0 {
				t.Errorf("%v %v, want the NotFound problem", a.header, a.body)
			}
		}},
		{"an undocumented code as a problem", "GET", members.URL + "/members/" + id, "", []string{"Prefer", "code=503"}, 503, func(t *testing.T, a answer) {
			if a.header.Get(mock.UndocumentedHeader) != "true" || a.body["status"] != 503.0 {
				t.Errorf("%v %v, want an undocumented 503 problem", a.header, a.body)
			}
		}},
		{"an unknown named example", "GET", members.URL + "/members/" + id, "", []string{"Prefer", "example=nope"}, 400, func(t *testing.T, a answer) {
			if !strings.Contains(a.body["detail"].(string), `no such example "nope" (examples: none)`) {
				t.Errorf("detail %q", a.body["detail"])
			}
		}},
		{"generated data on request", "GET", members.URL + "/members/" + id, "", []string{"Prefer", "dynamic=true"}, 200, func(t *testing.T, a answer) {
			if a.body["name"] == "Hanako Yamada" {
				t.Errorf("dynamic answer is the example: %v", a.body)
			}
		}},
		{"a bad request gets the validator's problem", "GET", members.URL + "/members/not-a-uuid", "", nil, 400, func(t *testing.T, a answer) {
			errs, _ := a.body["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["field"] != "path.memberId" {
				t.Errorf("errors %v, want path.memberId", a.body["errors"])
			}
		}},
		{"a missing Idempotency-Key", "POST", rooms.URL + "/rooms/" + room.DoubleRoomID + "/holds", holdBody, nil, 400, func(t *testing.T, a answer) {
			errs, _ := a.body["errors"].([]any)
			if len(errs) != 1 || errs[0].(map[string]any)["field"] != "header.Idempotency-Key" {
				t.Errorf("errors %v, want header.Idempotency-Key", a.body["errors"])
			}
		}},
		{"a created hold", "POST", rooms.URL + "/rooms/" + room.DoubleRoomID + "/holds", holdBody, []string{"Idempotency-Key", "key-0001"}, 201, func(t *testing.T, a answer) {
			if a.body["status"] != "held" {
				t.Errorf("body %v, want the Hold example", a.body)
			}
		}},
		{"no body for 204", "DELETE", rooms.URL + "/rooms/" + room.DoubleRoomID + "/holds/" + room.SingleRoomID, "", nil, 204, nil},
		{"an unknown path", "GET", rooms.URL + "/nowhere", "", nil, 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := get(t, tt.method, tt.url, tt.body, tt.header...)
			if a.status != tt.wantStatus {
				t.Fatalf("status %d, want %d (%v)", a.status, tt.wantStatus, a.body)
			}
			if tt.check != nil {
				tt.check(t, a)
			}
		})
	}
}

// TestSameRequestSameAnswer: generated data depends on the seed and the
// request only, not on what came before.
func TestSameRequestSameAnswer(t *testing.T) {
	t.Parallel()
	c := contracts(t)["room"]
	a, _ := serveMock(t, c, mock.WithSeed(5))
	b, _ := serveMock(t, c, mock.WithSeed(5))
	other, _ := serveMock(t, c, mock.WithSeed(6))
	path := "/rooms/" + room.DoubleRoomID
	get(t, "GET", a.URL+"/rooms/"+room.SingleRoomID, "", "Prefer", "dynamic=true")
	first := get(t, "GET", a.URL+path, "", "Prefer", "dynamic=true").body
	second := get(t, "GET", b.URL+path, "", "Prefer", "dynamic=true").body
	third := get(t, "GET", other.URL+path, "", "Prefer", "dynamic=true").body
	if !jsonEqual(first, second) {
		t.Errorf("seed 5 twice: %v then %v", first, second)
	}
	if jsonEqual(first, third) {
		t.Errorf("seeds 5 and 6 gave the same room %v", first)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestGeneratedClientFallsBackOnTheMock: the reservation service's
// generated member client, with its resilience policy from keiyaku.yaml,
// talks to the member mock; when the mock is asked for 503 the client
// retries (max_attempts 3) and then serves its last good answer.
func TestGeneratedClientFallsBackOnTheMock(t *testing.T) {
	t.Parallel()
	srv, hits := serveMock(t, contracts(t)["member"])
	client, err := reservationv1.NewMemberClient(srv.URL, resilience.WithoutBreaker())
	if err != nil {
		t.Fatal(err)
	}
	id := openapi_types.UUID(uuidOf(t, member.ActiveMemberID))
	ok, err := client.GetMemberWithResponse(t.Context(), id)
	if err != nil || ok.JSON200 == nil || ok.JSON200.Status != memberv1.MemberStatusActive {
		t.Fatalf("first call: %v %v", err, ok)
	}
	before := hits.Load()
	down := func(_ context.Context, r *http.Request) error {
		r.Header.Set(mock.PreferHeader, "code=503")
		return nil
	}
	fb, err := client.GetMemberWithResponse(t.Context(), id, down)
	if err != nil {
		t.Fatal(err)
	}
	if !resilience.IsFallback(fb.HTTPResponse) || fb.JSON200 == nil || fb.JSON200.Name != ok.JSON200.Name {
		t.Errorf("answer %d %v, want the last good member marked %s", fb.StatusCode(), fb.HTTPResponse.Header, resilience.FallbackHeader)
	}
	if n := hits.Load() - before; n != int64(reservationv1.MemberPolicy.MaxAttempts) {
		t.Errorf("%d attempts on the mock, want %d", n, reservationv1.MemberPolicy.MaxAttempts)
	}
}

func uuidOf(t testing.TB, s string) [16]byte {
	t.Helper()
	var u openapi_types.UUID
	if err := u.UnmarshalText([]byte(s)); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestReservationAgainstMocks is a component test of the reservation
// service with mocks of Member and Room instead of the real services: a
// booking goes through on the contracts' examples alone.
func TestReservationAgainstMocks(t *testing.T) {
	t.Parallel()
	cs := contracts(t)
	members, memberHits := serveMock(t, cs["member"])
	rooms, roomHits := serveMock(t, cs["room"])
	broker, err := embedded.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	svc, err := reservation.New(t.Context(), reservation.Config{
		ListenAddr:  "127.0.0.1:0",
		DatabaseURL: filepath.Join(t.TempDir(), "reservation.db"),
		Kafka:       app.KafkaConfig{Client: events.ClientConfig{Brokers: broker.Addrs()}},
		MemberURL:   members.URL,
		RoomURL:     rooms.URL,
	}, reservation.WithClock(func() time.Time { return time.Date(2025, 6, 20, 10, 0, 0, 0, time.UTC) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	api := httptest.NewServer(svc.Handler())
	t.Cleanup(api.Close)
	client, err := reservationv1.NewClientWithResponses(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	var checkIn, checkOut openapi_types.Date
	_ = checkIn.UnmarshalText([]byte("2025-07-01"))
	_ = checkOut.UnmarshalText([]byte("2025-07-04"))
	resp, err := client.CreateReservationWithResponse(t.Context(), &reservationv1.CreateReservationParams{IdempotencyKey: "component-0001"}, reservationv1.CreateReservationJSONRequestBody{
		MemberId: uuidOf(t, member.ActiveMemberID), RoomId: uuidOf(t, room.DoubleRoomID),
		CheckIn: checkIn, CheckOut: checkOut, Guests: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON201 == nil {
		t.Fatalf("create: %d %s", resp.StatusCode(), resp.Body)
	}
	if memberHits.Load() == 0 || roomHits.Load() < 2 {
		t.Errorf("member mock hit %d times, room mock %d: the neighbours were not called", memberHits.Load(), roomHits.Load())
	}
	got, err := client.GetReservationWithResponse(t.Context(), resp.JSON201.Id)
	if err != nil || got.JSON200 == nil || got.JSON200.Status != reservationv1.ReservationStatusConfirmed {
		t.Fatalf("get: %v %d %s", err, got.StatusCode(), got.Body)
	}
}

// TestNamedExamplesAndRanges: Prefer: example=NAME picks a named example,
// the first by name answers by default; a status covered by 5XX or by
// default is answered with that response, its headers generated.
func TestNamedExamplesAndRanges(t *testing.T) {
	t.Parallel()
	h, err := mock.NewHandler(loadDoc(t, "testdata/named-examples.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	url := srv.URL + "/members/42"
	tests := []struct {
		prefer     string
		wantStatus int
		want       string
	}{
		{"", 200, `{"status":"active"}`},
		{"example=suspended", 200, `{"status":"suspended"}`},
		{"code=503", 503, `"retry":`},
		{"code=418", 418, `"other":"x`},
		{"code=503, example=nope", 400, `no such example \"nope\"`},
		{"code=99", 400, `header Prefer: code=\"99\"`},
	}
	for _, tt := range tests {
		var a answer
		if tt.prefer == "" {
			a = get(t, "GET", url, "")
		} else {
			a = get(t, "GET", url, "", "Prefer", tt.prefer)
		}
		b, _ := json.Marshal(a.body)
		if a.status != tt.wantStatus || !strings.Contains(string(b), tt.want) {
			t.Errorf("Prefer %q: %d %s, want %d with %s", tt.prefer, a.status, b, tt.wantStatus, tt.want)
		}
		if a.status == 200 && a.header.Get("X-Rate-Limit") != "10" {
			t.Errorf("Prefer %q: X-Rate-Limit %q, want the generated 10", tt.prefer, a.header.Get("X-Rate-Limit"))
		}
	}
}
