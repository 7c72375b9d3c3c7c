package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	notificationv1 "github.com/keiyaku/keiyaku/gen/notification/v1"
	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
	roomv1 "github.com/keiyaku/keiyaku/gen/room/v1"
)

// Client calls the public APIs of a stack the way an outside client does:
// over HTTP, through the generated clients. It is safe for concurrent
// use.
type Client struct {
	ReservationAPI  *reservationv1.ClientWithResponses
	RoomAPI         *roomv1.ClientWithResponses
	NotificationAPI *notificationv1.ClientWithResponses
}

// Client returns a Client of the stack's services that sends its requests
// with hc (its transport may trace them); see [NewClient].
func (s *Stack) Client(hc *http.Client) (*Client, error) {
	return NewClient(s.URL(Reservation), s.URL(Room), s.URL(Notification), hc)
}

// NewClient returns a Client of the services at these base URLs; an empty
// URL leaves that API out (its methods then return an error). A nil hc
// means a client with a 10s timeout.
func NewClient(reservationURL, roomURL, notificationURL string, hc *http.Client) (*Client, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	var (
		c    Client
		errs []error
		err  error
	)
	if reservationURL != "" {
		c.ReservationAPI, err = reservationv1.NewClientWithResponses(reservationURL, reservationv1.WithHTTPClient(hc))
		errs = append(errs, err)
	}
	if roomURL != "" {
		c.RoomAPI, err = roomv1.NewClientWithResponses(roomURL, roomv1.WithHTTPClient(hc))
		errs = append(errs, err)
	}
	if notificationURL != "" {
		c.NotificationAPI, err = notificationv1.NewClientWithResponses(notificationURL, notificationv1.WithHTTPClient(hc))
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("stack client: %w", err)
	}
	return &c, nil
}

// Booking is what a reservation asks for. Dates are calendar days (their
// time of day is ignored).
type Booking struct {
	Member, Room      string
	CheckIn, CheckOut time.Time
	Guests            int32
}

// Result is the answer to POST /reservations.
type Result struct {
	// Status is the HTTP status: 201, or a problem's 4xx/5xx.
	Status int
	// ID is the reservation id of a 201.
	ID string
	// Problem is the detail of an error answer (its title when it has
	// no detail).
	Problem string
	// Header holds the response headers (Location, Idempotent-Replayed).
	Header http.Header
	// Elapsed is the time from sending the request to reading the answer.
	Elapsed time.Duration
}

// Book sends POST /reservations with the Idempotency-Key key. It returns
// an error only when no HTTP answer came (or a malformed one); every HTTP
// status is a Result.
func (c *Client) Book(ctx context.Context, key string, b Booking) (Result, error) {
	member, err := uuid.Parse(b.Member)
	if err != nil {
		return Result{}, fmt.Errorf("book: member %q: %w", b.Member, err)
	}
	room, err := uuid.Parse(b.Room)
	if err != nil {
		return Result{}, fmt.Errorf("book: room %q: %w", b.Room, err)
	}
	if c.ReservationAPI == nil {
		return Result{}, errors.New("book: no reservation service URL")
	}
	start := time.Now()
	resp, err := c.ReservationAPI.CreateReservationWithResponse(ctx, &reservationv1.CreateReservationParams{IdempotencyKey: key},
		reservationv1.CreateReservationRequest{
			MemberId: member, RoomId: room, Guests: b.Guests,
			CheckIn: openapi_types.Date{Time: b.CheckIn}, CheckOut: openapi_types.Date{Time: b.CheckOut},
		})
	elapsed := time.Since(start)
	if err != nil {
		return Result{}, fmt.Errorf("book: %w", err)
	}
	r := Result{Status: resp.StatusCode(), Header: resp.HTTPResponse.Header, Elapsed: elapsed}
	if resp.JSON201 != nil {
		r.ID = resp.JSON201.Id.String()
		return r, nil
	}
	var p struct{ Title, Detail string }
	if err := json.Unmarshal(resp.Body, &p); err == nil {
		r.Problem = p.Title
		if p.Detail != "" {
			r.Problem = p.Detail
		}
	}
	return r, nil
}

// Available asks the room service whether room is free for every night
// from checkIn to checkOut.
func (c *Client) Available(ctx context.Context, room string, checkIn, checkOut time.Time) (bool, error) {
	id, err := uuid.Parse(room)
	if err != nil {
		return false, fmt.Errorf("availability: room %q: %w", room, err)
	}
	if c.RoomAPI == nil {
		return false, errors.New("availability: no room service URL")
	}
	resp, err := c.RoomAPI.GetRoomAvailabilityWithResponse(ctx, id, &roomv1.GetRoomAvailabilityParams{
		CheckIn: openapi_types.Date{Time: checkIn}, CheckOut: openapi_types.Date{Time: checkOut},
	})
	if err != nil {
		return false, fmt.Errorf("availability of room %s: %w", room, err)
	}
	if resp.JSON200 == nil {
		return false, fmt.Errorf("availability of room %s: status %d: %s", room, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.Available, nil
}

// Notifications lists what member was sent, most recent first (at most
// 100).
func (c *Client) Notifications(ctx context.Context, member string) ([]notificationv1.Notification, error) {
	id, err := uuid.Parse(member)
	if err != nil {
		return nil, fmt.Errorf("notifications: member %q: %w", member, err)
	}
	if c.NotificationAPI == nil {
		return nil, errors.New("notifications: no notification service URL")
	}
	limit := notificationv1.Limit(100)
	resp, err := c.NotificationAPI.ListNotificationsWithResponse(ctx, &notificationv1.ListNotificationsParams{MemberId: id, Limit: &limit})
	if err != nil {
		return nil, fmt.Errorf("notifications of member %s: %w", member, err)
	}
	if resp.JSON200 == nil {
		return nil, fmt.Errorf("notifications of member %s: status %d: %s", member, resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.Items, nil
}
