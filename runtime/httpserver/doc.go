// Package httpserver runs a service's generated API — an oapi-codegen
// strict server on net/http — with what every Keiyaku service needs on the
// server side: requests held to the OpenAPI contract, errors as RFC 9457
// problems, bounded resources, safe retries of POST, health endpoints and
// a graceful shutdown.
//
// # Assembly
//
// A service wires its generated package (here gen/room/v1) like this:
//
//	spec, err := roomv1.GetSpec() // the embedded, bundled contract
//	validate, err := httpserver.Validator(spec)
//	store, err := idempotency.NewMemoryStore() // or a durable store
//	idempotent, err := httpserver.Idempotency(store, httpserver.WithIdempotencyLogger(log))
//
//	strict := roomv1.NewStrictHandlerWithOptions(service, nil, roomv1.StrictHTTPServerOptions{
//		RequestErrorHandlerFunc:  httpserver.RequestErrorHandler,
//		ResponseErrorHandlerFunc: httpserver.ResponseErrorHandler(log),
//	})
//	api := roomv1.HandlerWithOptions(strict, roomv1.StdHTTPServerOptions{
//		ErrorHandlerFunc: httpserver.ParamErrorHandler,
//	})
//
//	srv, err := httpserver.New(httpserver.Chain(api, validate, idempotent),
//		httpserver.WithLogger(log),
//		httpserver.WithReadinessCheck("db", db.PingContext))
//	err = srv.ListenAndServe(ctx) // returns once ctx is done and requests drained
//
// A request then goes through, in order:
//
//  1. panic recovery ([Server]);
//  2. the body limit, 1 MiB by default ([WithMaxBodyBytes]);
//  3. /healthz and /readyz ([Server]);
//  4. request validation against the contract ([Validator]);
//  5. idempotency of POST and PATCH with an Idempotency-Key ([Idempotency]);
//  6. the generated handler, which binds parameters and decodes the body,
//     and calls the service's StrictServerInterface.
//
// The http.Server underneath has a header timeout (5s by default), read,
// write and idle timeouts and a header size limit; [Server.Run] stops on
// context cancellation and drains in-flight requests for up to 10s.
//
// # Errors
//
// Every error answered by this package, and by the generated handler when
// it is given the hooks [ParamErrorHandler], [RequestErrorHandler] and
// [ResponseErrorHandler], is an application/problem+json body
// (runtime/problem) whose errors[] names the offending fields:
//
//	400  the request breaks the contract: bad JSON, wrong Content-Type,
//	     missing, mistyped or out-of-bounds parameter or body field,
//	     encoded slash or dot segment in the path, bad Idempotency-Key
//	404  no operation has this path
//	405  the path exists with other methods (Allow header)
//	409  a request with the same Idempotency-Key is still running
//	413  the body is over the limit
//	422  the Idempotency-Key was used for a different request; business
//	     rules, answered by the service returning a *problem.Problem
//	500  a panic or an unexpected error of the service, with a generic
//	     detail (the cause is logged, never sent)
//	503  /readyz failing or shutting down; idempotency store unavailable
//
// A client mistake is never answered 5xx. The rule between 400 and 422 is
// the shared contract's: what the contract can check is a 400, 422 is for
// what only the service knows (see [Validator]).
//
// # Testing
//
// Package httpservertest wraps a handler so that every response it writes
// in a component test is checked against the contract: documented status,
// content type and body schema.
package httpserver
