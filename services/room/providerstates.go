package room

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/keiyaku/keiyaku/runtime/app"
)

// providerStates are the Pact provider states of the room contract's
// consumers, set up through the service's own data and API (see
// [Config.ProviderStates]).
func (s *Service) providerStates() http.Handler {
	const date = `(\d{4}-\d{2}-\d{2})`
	return app.ProviderStates(
		app.ProviderState{
			// The demo room exists and no hold blocks it in the range.
			Pattern: regexp.MustCompile(`^room (\S+) is available from ` + date + ` to ` + date + `$`),
			Setup: func(ctx context.Context, m []string, _ map[string]any) error {
				if err := insertDemoData(ctx, s.db); err != nil {
					return err
				}
				_, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM holds WHERE room_id = ? AND check_in < ? AND check_out > ?`), m[1], m[3], m[2])
				return err
			},
		},
		app.ProviderState{
			// Another reservation holds the room: made through the API,
			// with a fixed Idempotency-Key, so a second setup replays it.
			Pattern: regexp.MustCompile(`^room (\S+) is held by another reservation from ` + date + ` to ` + date + `$`),
			Setup: func(ctx context.Context, m []string, _ map[string]any) error {
				if err := insertDemoData(ctx, s.db); err != nil {
					return err
				}
				body := fmt.Sprintf(`{"reservationId":"00000000-0000-4000-8000-0000000000aa","checkIn":%q,"checkOut":%q}`, m[2], m[3])
				req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/rooms/"+m[1]+"/holds", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "pact-state-held-"+m[1]+"-"+m[2]+"-"+m[3])
				rec := httptest.NewRecorder()
				s.server.Handler().ServeHTTP(rec, req)
				if rec.Code != http.StatusCreated {
					return fmt.Errorf("hold answered %d: %s", rec.Code, rec.Body.Bytes())
				}
				return nil
			},
		},
	)
}
