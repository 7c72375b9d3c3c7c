package httpserver_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/keiyaku/keiyaku/runtime/httpserver"
	roomv1 "github.com/keiyaku/keiyaku/runtime/httpserver/internal/roomv1"
	"github.com/keiyaku/keiyaku/runtime/idempotency"
)

// Example wires the generated room server as a service does, and shows a
// request that breaks the contract answered as a problem.
func Example() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var service roomv1.StrictServerInterface = &roomService{} // the service's implementation

	spec, err := roomv1.GetSpec()
	if err != nil {
		panic(err)
	}
	validate, err := httpserver.Validator(spec)
	if err != nil {
		panic(err)
	}
	store, err := idempotency.NewMemoryStore()
	if err != nil {
		panic(err)
	}
	idempotent, err := httpserver.Idempotency(store, httpserver.WithIdempotencyLogger(log))
	if err != nil {
		panic(err)
	}
	strict := roomv1.NewStrictHandlerWithOptions(service, nil, roomv1.StrictHTTPServerOptions{
		RequestErrorHandlerFunc:  httpserver.RequestErrorHandler,
		ResponseErrorHandlerFunc: httpserver.ResponseErrorHandler(log),
	})
	api := roomv1.HandlerWithOptions(strict, roomv1.StdHTTPServerOptions{
		ErrorHandlerFunc: httpserver.ParamErrorHandler,
	})
	srv, err := httpserver.New(httpserver.Chain(api, validate, idempotent), httpserver.WithLogger(log))
	if err != nil {
		panic(err)
	}
	// A service calls srv.ListenAndServe(ctx); here a test server will do.
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	res, err := http.Post(ts.URL+"/rooms/"+knownRoom+"/holds", "application/json",
		strings.NewReader(`{"reservationId":"9c8b7a6d-5e4f-4321-8fed-cba987654321","checkIn":"2025-07-01"}`))
	if err != nil {
		panic(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.Status, res.Header.Get("Content-Type"))
	fmt.Println(string(body))
	// Output:
	// 400 Bad Request application/problem+json
	// {"type":"about:blank","title":"Bad Request","status":400,"detail":"request validation failed","instance":"/rooms/7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d/holds","errors":[{"field":"body.checkOut","reason":"is required"},{"field":"header.Idempotency-Key","reason":"is required"}]}
}
