package breaking

import (
	"context"
	"io/fs"
	"strings"

	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// What the external tests (generated_subjects_test.go, which imports the
// generator, which imports this package through deps) use.
var (
	KeyedStayEvents  = keyedStayEvents
	TwoMessageEvents = twoMessageEvents
	StayBooked       = stayBooked
	Record           = record
	FieldID          = fieldID
	GuestFile        = guestFile
)

// GateSubjects returns the subjects the gate checks for the messages of
// cfg's modules in fsys, as topic/part/record=subject, a record that
// clashes with another under one subject included.
func GateSubjects(ctx context.Context, cfg *config.Config, fsys fs.FS) ([]string, error) {
	snap := subjectsAt(ctx, cfg, fsys)
	if err := snap.firstFailure(); err != nil {
		return nil, err
	}
	var out []string
	for name, s := range snap.subjects {
		if s.topic != "" {
			part := s.message[strings.LastIndex(s.message, "/")+1:]
			out = append(out, s.topic+"/"+part+"/"+s.record.Name+"="+name)
			if s.clash != "" { // a second record under the subject
				out = append(out, s.topic+"/"+part+"/"+s.clash+"="+name)
			}
		}
	}
	return out, nil
}
