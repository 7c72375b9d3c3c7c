package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"

	"github.com/keiyaku/keiyaku/runtime/problem"
)

// ProviderStatesPath is where [NewHTTPServer] serves
// [HTTPConfig.ProviderStates]: the state change URL to give the Pact
// verifier (pact verifier --state-change-url http://host:port/_pact/provider-states).
const ProviderStatesPath = "/_pact/provider-states"

// ProviderState sets up one kind of Pact provider state: the states whose
// name matches Pattern (anchor it). Setup gets the submatches of the name
// (index 0 is the whole name) and the state's params; it must be
// idempotent, since the verifier sets a state up before every interaction
// that names it.
type ProviderState struct {
	Pattern *regexp.Regexp
	Setup   func(ctx context.Context, match []string, params map[string]any) error
}

// ProviderStates returns the handler of the Pact state change protocol that
// the official verifier speaks: POST with a JSON body {"state": name,
// "params": {...}, "action": "setup"|"teardown"}. A setup runs the first
// state whose pattern matches the name and answers 200 with {}; a teardown
// does nothing and answers 200 (each setup makes the data it needs). An
// unknown state, a malformed body or a failing setup is answered as
// problem+json (400, 400, 500) naming the state.
//
// It changes the service's data on request of anyone who can reach it:
// serve it only to a verifier, never in production.
func ProviderStates(states ...ProviderState) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			problem.Write(w, problem.MethodNotAllowed("state changes are POSTed"))
			return
		}
		var req struct {
			State  string         `json:"state"`
			Params map[string]any `json:"params"`
			Action string         `json:"action"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.State == "" {
			problem.Write(w, problem.BadRequest("the body must be a JSON object with a state",
				problem.FieldError{Field: "body.state", Reason: "is required"}))
			return
		}
		if req.Action == "teardown" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{}"))
			return
		}
		for _, s := range states {
			m := s.Pattern.FindStringSubmatch(req.State)
			if m == nil {
				continue
			}
			if err := s.Setup(r.Context(), m, req.Params); err != nil {
				problem.Write(w, problem.New(http.StatusInternalServerError, fmt.Sprintf("provider state %q: %v", req.State, err)))
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("{}"))
			return
		}
		problem.Write(w, problem.BadRequest(fmt.Sprintf("unknown provider state %q", req.State),
			problem.FieldError{Field: "body.state", Reason: "names no state this provider can set up"}))
	})
}
