package member

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	memberv1 "github.com/keiyaku/keiyaku/gen/member/v1"
	"github.com/keiyaku/keiyaku/runtime/problem"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// dateLayout is how calendar dates are stored.
const dateLayout = time.DateOnly

// api implements the operations of contracts/member/v1.
type api struct {
	db *sqldb.DB
}

var _ memberv1.StrictServerInterface = (*api)(nil)

// GetMember answers the member with the given id, or 404.
func (a *api) GetMember(ctx context.Context, req memberv1.GetMemberRequestObject) (memberv1.GetMemberResponseObject, error) {
	id := req.MemberId.String()
	var (
		m                   memberv1.Member
		email, status, tier string
		since               sql.NullString
	)
	err := a.db.Reader().QueryRowContext(ctx, a.db.Rebind(
		`SELECT name, email, status, tier, member_since FROM members WHERE id = ?`), id).
		Scan(&m.Name, &email, &status, &tier, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, problem.NotFound(fmt.Sprintf("member %s was not found", id))
	}
	if err != nil {
		return nil, fmt.Errorf("get member %s: %w", id, err)
	}
	m.Id = req.MemberId
	m.Email = openapi_types.Email(email)
	m.Status = memberv1.MemberStatus(status)
	m.Tier = memberv1.MemberTier(tier)
	if since.Valid {
		d, err := time.Parse(dateLayout, since.String)
		if err != nil {
			return nil, fmt.Errorf("get member %s: member_since %q: %w", id, since.String, err)
		}
		m.MemberSince = &openapi_types.Date{Time: d}
	}
	return memberv1.GetMember200JSONResponse(m), nil
}
