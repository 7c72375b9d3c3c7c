package member

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"github.com/keiyaku/keiyaku/runtime/app"
)

// providerStates are the Pact provider states of the member contract's
// consumers, set up in the service's own data (see
// [Config.ProviderStates]).
func (s *Service) providerStates() http.Handler {
	return app.ProviderStates(
		app.ProviderState{
			// A demo member with that status.
			Pattern: regexp.MustCompile(`^member (\S+) is (active|suspended|withdrawn)$`),
			Setup: func(ctx context.Context, m []string, _ map[string]any) error {
				if err := insertDemoData(ctx, s.db); err != nil {
					return err
				}
				res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE members SET status = ? WHERE id = ?`), m[2], m[1])
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil || n != 1 {
					return fmt.Errorf("member %s is not one of the demo members", m[1])
				}
				return nil
			},
		},
		app.ProviderState{
			Pattern: regexp.MustCompile(`^member (\S+) does not exist$`),
			Setup: func(ctx context.Context, m []string, _ map[string]any) error {
				_, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM members WHERE id = ?`), m[1])
				return err
			},
		},
	)
}
