package pact

import (
	"math/big"
	"testing"
	"time"

	reservationv1 "github.com/keiyaku/keiyaku/gen/reservation/v1"
)

// TestJSONView pins the JSON view of a reservation event: decimals are
// numbers with their scale's digits (positive and negative), dates are
// days and timestamps milliseconds, and the view decodes back to the same
// event through the schema.
func TestJSONView(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		amount *big.Rat
		want   string
	}{
		{"positive", big.NewRat(3600000, 100), `"amount":36000.00`},
		{"negative", big.NewRat(-1234, 100), `"amount":-12.34`},
		{"fraction", big.NewRat(1, 100), `"amount":0.01`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			evt := reservationv1.ReservationCreated{
				ReservationID: "6f1d2c3b-4a59-4867-8f90-a1b2c3d4e5f6", MemberID: "3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70",
				RoomID: "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", Guests: 2,
				CheckIn: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), CheckOut: time.Date(2025, 7, 3, 0, 0, 0, 0, time.UTC),
				TotalPrice: reservationv1.Money{Amount: tc.amount, Currency: "JPY"}, CreatedAt: time.UnixMilli(1750000000000).UTC(),
			}
			s := reservationv1.ReservationCreatedSchema.Avro()
			got, err := JSONView(s, &evt)
			if err != nil {
				t.Fatal(err)
			}
			want := `{"checkIn":20270,"checkOut":20272,"createdAt":1750000000000,"guests":2,"memberId":"3f1c2a9e-8b7d-4e6f-9a01-2b3c4d5e6f70","reservationId":"6f1d2c3b-4a59-4867-8f90-a1b2c3d4e5f6","roomId":"7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d","totalPrice":{` + tc.want + `,"currency":"JPY"}}`
			if string(got) != want {
				t.Errorf("view\n got %s\nwant %s", got, want)
			}
			var back reservationv1.ReservationCreated
			if err := s.DecodeJSON(got, &back); err != nil {
				t.Fatalf("decode the view: %v", err)
			}
			if back.TotalPrice.Amount.Cmp(tc.amount) != 0 || !back.CheckIn.Equal(evt.CheckIn) || !back.CreatedAt.Equal(evt.CreatedAt) {
				t.Errorf("round trip = %+v, want %+v", back, evt)
			}
		})
	}
	if _, err := JSONView(nil, struct{}{}); err == nil {
		t.Error("nil schema accepted")
	}
}
