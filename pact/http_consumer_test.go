//go:build pact

package pact

import (
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/pact-foundation/pact-go/v2/consumer"
	"github.com/pact-foundation/pact-go/v2/matchers"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
)

// Ids and dates the HTTP pacts use; the provider tests set up states
// for them.
const (
	activeMemberID    = "3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70" // demo data of services/member
	suspendedMemberID = "8b9c0d1e-2f3a-4b5c-9d6e-7f8a9b0c1d2e" // demo data of services/member
	unknownMemberID   = "00000000-0000-4000-8000-000000000001"
	availableRoomID   = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d" // the double, demo data of services/room
	takenRoomID       = "4e5f6a7b-8c9d-4e0f-a1b2-c3d4e5f6a7b8" // the twin, demo data of services/room
	reservationID     = "6f1d2c3b-4a59-4867-8f90-a1b2c3d4e5f6"
	checkIn           = "2025-07-01"
	checkOut          = "2025-07-04"
)

// Provider states of the HTTP pacts.
const (
	stateActiveMember    = "member " + activeMemberID + " is active"
	stateSuspendedMember = "member " + suspendedMemberID + " is suspended"
	stateUnknownMember   = "member " + unknownMemberID + " does not exist"
	stateRoomAvailable   = "room " + availableRoomID + " is available from " + checkIn + " to " + checkOut
	stateRoomTaken       = "room " + takenRoomID + " is held by another reservation from " + checkIn + " to " + checkOut
)

// obj is a JSON object whose values may be matchers.
type obj = matchers.StructMatcher

var (
	like  = matchers.Like
	regex = matchers.Regex
)

const (
	uuidPattern  = `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`
	datePattern  = `^\d{4}-\d{2}-\d{2}$`
	problemJSON  = "application/problem+json"
	problemRegex = `^application/problem\+json`
)

// problemBody is what reservation reads of an error: an RFC 9457 problem
// with the answer's status.
func problemBody(status int) obj {
	return obj{
		"type":   like("about:blank"),
		"title":  like(http.StatusText(status)),
		"status": matchers.Integer(status),
		"detail": like("what went wrong"),
	}
}

// newHTTPPact returns the mock provider of one consumer–provider pair,
// writing into the run's pact folder.
func newHTTPPact(t *testing.T, provider string) *consumer.V3HTTPMockProvider {
	t.Helper()
	p, err := consumer.NewV3Pact(consumer.MockHTTPProviderConfig{
		Consumer: reservationName, Provider: provider, Host: "127.0.0.1",
		PactDir: written, LogDir: filepath.Join(t.TempDir(), "logs"),
	})
	if err != nil {
		t.Fatalf("new pact: %v", err)
	}
	return p
}

// TestConsumerReservationMember pins what reservation needs of member to
// decide a booking, through the generated member client: an active member
// (may book), a suspended one (may not), an unknown one (404 problem).
// The subtests run one after another: the FFI merges them into one pact
// file, which is not safe to write concurrently.
func TestConsumerReservationMember(t *testing.T) {
	t.Parallel()
	p := newHTTPPact(t, memberName)
	member := func(status, tier string) obj {
		return obj{
			"id":          regex(activeMemberID, uuidPattern),
			"name":        like("Hanako Yamada"),
			"email":       like("hanako.yamada@example.com"),
			"status":      status, // reservation decides on it: exact
			"tier":        like(tier),
			"memberSince": regex("2019-04-01", datePattern),
		}
	}
	tests := []struct {
		desc, state, id string
		status          int
		body            obj
		check           func(*memberv1.GetMemberResponse) error
	}{
		{
			desc: "a request for an active member", state: stateActiveMember, id: activeMemberID,
			status: http.StatusOK, body: member("active", "gold"),
			check: func(r *memberv1.GetMemberResponse) error {
				if r.JSON200 == nil || r.JSON200.Status != memberv1.MemberStatusActive {
					return fmt.Errorf("got %d %s, want an active member", r.StatusCode(), r.Body)
				}
				return nil
			},
		},
		{
			desc: "a request for a suspended member", state: stateSuspendedMember, id: suspendedMemberID,
			status: http.StatusOK, body: member("suspended", "silver"),
			check: func(r *memberv1.GetMemberResponse) error {
				if r.JSON200 == nil || r.JSON200.Status != memberv1.MemberStatusSuspended {
					return fmt.Errorf("got %d %s, want a suspended member", r.StatusCode(), r.Body)
				}
				return nil
			},
		},
		{
			desc: "a request for an unknown member", state: stateUnknownMember, id: unknownMemberID,
			status: http.StatusNotFound, body: problemBody(http.StatusNotFound),
			check: func(r *memberv1.GetMemberResponse) error {
				if r.StatusCode() != http.StatusNotFound || r.ApplicationproblemJSON404 == nil {
					return fmt.Errorf("got %d %s, want a 404 problem", r.StatusCode(), r.Body)
				}
				return nil
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ctype := "application/json"
			if tc.status >= 400 {
				ctype = problemJSON
			}
			err := p.AddInteraction().
				Given(tc.state).
				UponReceiving(tc.desc).
				WithRequest(http.MethodGet, "/members/"+tc.id).
				WillRespondWith(tc.status, func(b *consumer.V3ResponseBuilder) {
					b.Header("Content-Type", regex(ctype, "^"+regexpQuote(ctype))).JSONBody(tc.body)
				}).
				ExecuteTest(t, func(cfg consumer.MockServerConfig) error {
					c, err := memberv1.NewClientWithResponses(fmt.Sprintf("http://%s:%d", cfg.Host, cfg.Port))
					if err != nil {
						return err
					}
					resp, err := c.GetMemberWithResponse(t.Context(), uuid.MustParse(tc.id))
					if err != nil {
						return err
					}
					return tc.check(resp)
				})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestConsumerReservationRoom pins what reservation needs of room to book:
// the room (capacity, nightly rate), a hold of an available room (201) and
// the refusal of a taken one (409 problem), through the generated room
// client. Subtests run in order, as in TestConsumerReservationMember.
func TestConsumerReservationRoom(t *testing.T) {
	t.Parallel()
	p := newHTTPPact(t, roomName)
	date := func(s string) openapi_types.Date {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return openapi_types.Date{Time: d}
	}
	hold := func(c *roomv1.ClientWithResponses, roomID string) (*roomv1.CreateRoomHoldResponse, error) {
		return c.CreateRoomHoldWithResponse(t.Context(), uuid.MustParse(roomID),
			&roomv1.CreateRoomHoldParams{IdempotencyKey: "hold-" + reservationID},
			roomv1.CreateRoomHoldJSONRequestBody{ReservationId: uuid.MustParse(reservationID), CheckIn: date(checkIn), CheckOut: date(checkOut)})
	}
	holdRequest := func(roomID string) (string, string, func(*consumer.V3RequestBuilder)) {
		return http.MethodPost, "/rooms/" + roomID + "/holds", func(b *consumer.V3RequestBuilder) {
			b.Header("Content-Type", regex("application/json", `^application/json`)).
				Header("Idempotency-Key", like("hold-"+reservationID)).
				JSONBody(obj{
					"reservationId": regex(reservationID, uuidPattern),
					"checkIn":       regex(checkIn, datePattern),
					"checkOut":      regex(checkOut, datePattern),
				})
		}
	}
	tests := []struct {
		desc, state string
		method      string
		path        string
		request     func(*consumer.V3RequestBuilder)
		status      int
		body        obj
		call        func(*roomv1.ClientWithResponses) error
	}{
		{
			desc: "a request for an available room", state: stateRoomAvailable,
			method: http.MethodGet, path: "/rooms/" + availableRoomID,
			status: http.StatusOK,
			body: obj{
				"id":       regex(availableRoomID, uuidPattern),
				"number":   like("0412"),
				"type":     like("double"),
				"capacity": matchers.Integer(2),
				"nightlyRate": obj{
					"amount":   regex("18000.00", `^-?\d+\.\d{2}$`),
					"currency": regex("JPY", `^[A-Z]{3}$`),
				},
			},
			call: func(c *roomv1.ClientWithResponses) error {
				r, err := c.GetRoomWithResponse(t.Context(), uuid.MustParse(availableRoomID))
				if err != nil {
					return err
				}
				if r.JSON200 == nil || r.JSON200.Capacity != 2 || r.JSON200.NightlyRate.Amount != "18000.00" {
					return fmt.Errorf("got %d %s, want the double at 18000.00", r.StatusCode(), r.Body)
				}
				return nil
			},
		},
		{
			desc: "a hold of an available room", state: stateRoomAvailable,
			status: http.StatusCreated,
			body: obj{
				"id":            regex("1b2c3d4e-5f60-4718-a9b0-c1d2e3f4a5b6", uuidPattern),
				"roomId":        regex(availableRoomID, uuidPattern),
				"reservationId": regex(reservationID, uuidPattern),
				"checkIn":       regex(checkIn, datePattern),
				"checkOut":      regex(checkOut, datePattern),
				"status":        "held",
				"expiresAt":     regex("2025-06-20T10:15:00Z", `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`),
			},
			call: func(c *roomv1.ClientWithResponses) error {
				r, err := hold(c, availableRoomID)
				if err != nil {
					return err
				}
				if r.JSON201 == nil || r.JSON201.Status != roomv1.HoldStatusHeld {
					return fmt.Errorf("got %d %s, want a hold", r.StatusCode(), r.Body)
				}
				return nil
			},
		},
		{
			desc: "a hold of a taken room", state: stateRoomTaken,
			status: http.StatusConflict, body: problemBody(http.StatusConflict),
			call: func(c *roomv1.ClientWithResponses) error {
				r, err := hold(c, takenRoomID)
				if err != nil {
					return err
				}
				if r.StatusCode() != http.StatusConflict || r.ApplicationproblemJSON409 == nil {
					return fmt.Errorf("got %d %s, want a 409 problem", r.StatusCode(), r.Body)
				}
				return nil
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			method, path, request := tc.method, tc.path, tc.request
			if method == "" {
				roomID := availableRoomID
				if tc.state == stateRoomTaken {
					roomID = takenRoomID
				}
				method, path, request = holdRequest(roomID)
			}
			var builders []consumer.V3RequestBuilderFunc
			if request != nil {
				builders = append(builders, request)
			}
			ctype := "application/json"
			if tc.status >= 400 {
				ctype = problemJSON
			}
			err := p.AddInteraction().
				Given(tc.state).
				UponReceiving(tc.desc).
				WithRequest(consumer.Method(method), path, builders...).
				WillRespondWith(tc.status, func(b *consumer.V3ResponseBuilder) {
					b.Header("Content-Type", regex(ctype, "^"+regexpQuote(ctype))).JSONBody(tc.body)
				}).
				ExecuteTest(t, func(cfg consumer.MockServerConfig) error {
					c, err := roomv1.NewClientWithResponses(fmt.Sprintf("http://%s:%d", cfg.Host, cfg.Port))
					if err != nil {
						return err
					}
					return tc.call(c)
				})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func regexpQuote(s string) string {
	out := make([]byte, 0, len(s)+2)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '+' || c == '.' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(out)
}
