package member

import (
	"context"
	"fmt"

	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// demoMembers are the members of the demo and the tests (see the constants
// above): two active, one suspended, one withdrawn. They are inserted only
// when [Config.DemoData] is set — never by the migrations, so a production
// database holds no invented people or e-mail addresses.
var demoMembers = []struct {
	id, name, email, status, tier string
	since                         any // 'YYYY-MM-DD' or nil
}{
	{ActiveMemberID, "Hanako Yamada", "hanako.yamada@example.com", "active", "gold", "2019-04-01"},
	{OtherActiveMemberID, "Taro Suzuki", "taro.suzuki@example.com", "active", "standard", "2023-11-15"},
	{SuspendedMemberID, "Kenji Sato", "kenji.sato@example.com", "suspended", "silver", "2021-06-30"},
	{WithdrawnMemberID, "Yuki Tanaka", "yuki.tanaka@example.com", "withdrawn", "platinum", nil},
}

// insertDemoData inserts the demo members that are not there yet; a member
// already present is left as it is.
func insertDemoData(ctx context.Context, db *sqldb.DB) error {
	q := db.Rebind(`INSERT INTO members (id, name, email, status, tier, member_since) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
	for _, m := range demoMembers {
		if _, err := db.ExecContext(ctx, q, m.id, m.name, m.email, m.status, m.tier, m.since); err != nil {
			return fmt.Errorf("demo data: member %s: %w", m.id, err)
		}
	}
	return nil
}
