package httpserver

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/keiyaku/keiyaku/runtime/problem"
)

// health serves the liveness and readiness endpoints and passes every
// other request to next.
func (s *Server) health(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case LivenessPath:
			if healthMethod(w, r) {
				writeStatus(w, r, `{"status":"ok"}`)
			}
		case ReadinessPath:
			if healthMethod(w, r) {
				s.ready(w, r)
			}
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func healthMethod(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	p := problem.MethodNotAllowed("method " + r.Method + " is not allowed here; allowed: GET, HEAD")
	p.Instance = r.URL.Path
	problem.Write(w, p)
	return false
}

func writeStatus(w http.ResponseWriter, r *http.Request, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// ready runs the readiness checks concurrently and answers.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if s.stopping.Load() {
		s.notReady(w, r, "the server is shutting down")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.readinessTimeout)
	defer cancel()
	errs := make([]error, len(s.cfg.checks))
	var wg sync.WaitGroup
	for i, c := range s.cfg.checks {
		wg.Go(func() { errs[i] = runCheck(ctx, c.fn) })
	}
	wg.Wait()
	var failed []string
	for i, err := range errs {
		if err != nil {
			failed = append(failed, s.cfg.checks[i].name)
			s.cfg.logger.WarnContext(r.Context(), "readiness check failed", "check", s.cfg.checks[i].name, "error", err)
		}
	}
	if len(failed) > 0 {
		s.notReady(w, r, "not ready: "+strings.Join(failed, ", ")+" failed")
		return
	}
	if s.stopping.Load() {
		s.notReady(w, r, "the server is shutting down")
		return
	}
	writeStatus(w, r, `{"status":"ready"}`)
}

// runCheck runs fn, turning a check that outlives ctx into ctx's error.
func runCheck(ctx context.Context, fn func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) notReady(w http.ResponseWriter, r *http.Request, detail string) {
	w.Header().Set("Cache-Control", "no-store")
	p := problem.Unavailable(detail)
	p.Instance = r.URL.Path
	problem.Write(w, p)
}
