package room

import (
	"context"
	"fmt"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// demoRooms are the rooms of the demo and the tests (see the constants
// above). They are inserted only when [Config.DemoData] is set, never by
// the migrations.
var demoRooms = []struct {
	id, number, typ string
	capacity        int
	rate, currency  string
}{
	{DoubleRoomID, "0412", "double", 2, "18000.00", "JPY"},
	{SingleRoomID, "0101", "single", 1, "9500.00", "JPY"},
	{TwinRoomID, "0305", "twin", 2, "16000.00", "JPY"},
	{SuiteRoomID, "1201", "suite", 4, "52000.00", "JPY"},
}

// insertDemoData inserts the demo rooms that are not there yet; a room
// already present is left as it is.
func insertDemoData(ctx context.Context, db *sqldb.DB) error {
	q := db.Rebind(`INSERT INTO rooms (id, number, type, capacity, rate_amount, currency) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	for _, r := range demoRooms {
		if _, err := db.ExecContext(ctx, q, r.id, r.number, r.typ, r.capacity, r.rate, r.currency); err != nil {
			return fmt.Errorf("demo data: room %s: %w", r.id, err)
		}
	}
	return nil
}
