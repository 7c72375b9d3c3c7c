package httpserver

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/keiyaku/keiyaku/runtime/problem"
)

// Chain returns h wrapped in middlewares, the first one outermost: Chain(h,
// a, b) serves a request with a, then b, then h. It is how the API part
// of a service is assembled before it is given to [New]:
//
//	api := httpserver.Chain(generated, validate, idempotent)
func Chain(h http.Handler, middlewares ...func(http.Handler) http.Handler) http.Handler {
	for i := len(middlewares) - 1; i >= 0; i-- {
		h = middlewares[i](h)
	}
	return h
}

// recoverPanics answers a panic in next with a 500 problem, logging the
// panic value and the stack. http.ErrAbortHandler is passed on, as
// net/http expects.
func recoverPanics(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // net/http compares the sentinel itself
				panic(v)
			}
			logger.ErrorContext(r.Context(), "panic serving request",
				"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if tw.wrote {
				// Too late for a problem: abort the connection so the
				// client cannot take a cut response for a whole one.
				panic(http.ErrAbortHandler)
			}
			h := w.Header()
			for k := range h {
				delete(h, k)
			}
			p := problem.Internal()
			p.Instance = r.URL.EscapedPath()
			problem.Write(w, p)
		}()
		next.ServeHTTP(tw, r)
	})
}

// limitBody answers 413 to a request declaring a body over limit and caps
// the body of the others.
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			w.Header().Set("Connection", "close")
			p := problem.TooLarge(fmt.Sprintf("the request body is larger than %d bytes", limit))
			p.Instance = r.URL.EscapedPath()
			problem.Write(w, p)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			// Give MaxBytesReader net/http's own writer, so that it can
			// close the connection after an oversized body.
			rw := w
			if tw, ok := w.(*trackingWriter); ok {
				rw = tw.ResponseWriter
			}
			r.Body = http.MaxBytesReader(rw, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}
