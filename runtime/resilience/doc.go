// Package resilience is the HTTP client that synchronous calls between
// Keiyaku services go through, so that a slow or failing neighbour slows and
// fails its callers as little as possible, and is not buried under their
// retries.
//
// A [Client] serves one target service. Create it once with [New] and pass
// it to the generated oapi-codegen client, whose WithHTTPClient option takes
// any value with a Do(*http.Request) (*http.Response, error) method:
//
//	members, err := resilience.New("member",
//		resilience.WithLogger(logger),
//		resilience.WithMeterProvider(meterProvider),
//		resilience.WithTransport(otelhttp.NewTransport(nil)), // one span per attempt
//		resilience.WithFallback(nil, resilience.LastGood(time.Minute, 10_000)),
//	)
//	if err != nil { … }
//	api, err := memberv1.NewClientWithResponses(memberURL, memberv1.WithHTTPClient(members))
//
// # Policies and their defaults
//
// Every number below can be set with an option or, from configuration, with
// a [Policy], whose zero fields keep these defaults.
//
// Attempt timeout, 2s ([WithAttemptTimeout]). Each attempt — connecting,
// sending, receiving the headers and the body — must end within it; an
// attempt that does not is abandoned and counts as a retryable failure.
//
// Call timeout, 5s ([WithTimeout]). The whole call — attempts and the waits
// between them — ends by then, or earlier if the request's context says so.
// No attempt runs past it and the client never starts a wait that would end
// after it.
//
// Attempts, 3 ([WithMaxAttempts]). At most this many attempts per call, the
// first one included; never more than [MaxAttemptsLimit], because unlimited
// retries are an anti-pattern.
//
// Which requests are retried. Only those that are safe to send twice: GET,
// HEAD, OPTIONS, TRACE, PUT and DELETE, and any request (POST, PATCH)
// carrying an Idempotency-Key header, which the server uses to apply it
// once. A POST or PATCH without the header is sent once, whatever happens.
// The request body must also be replayable: a retry takes a fresh copy from
// Request.GetBody, which http.NewRequest sets for *bytes.Buffer,
// *bytes.Reader and *strings.Reader bodies, as generated clients use. A
// request with another kind of body is sent once; it is not buffered behind
// the caller's back.
//
// Which failures are retried. Transport failures (connection refused, reset,
// or closed in the middle of a response; network timeouts; dial errors;
// temporary DNS errors), attempt timeouts, and the statuses 429 Too Many
// Requests, 502 Bad Gateway, 503 Service Unavailable and 504 Gateway
// Timeout. Every other status is returned to the caller as it came,
// including 500: a 500 usually reports a bug that answers the same on every
// attempt, and the server may have applied part of the request. TLS errors
// and errors in the request itself are not retried.
//
// Backoff, 100ms to 1s ([WithBackoff]). Before retry n the client waits a
// random time between 0 and min(1s, 100ms·2ⁿ⁻¹) — exponential backoff with
// full jitter, from github.com/cenkalti/backoff/v5, so that callers do not
// retry in lockstep. A 429 or 503 with a Retry-After header (seconds or an
// HTTP date) waits at least that long; if Retry-After asks for more time
// than the call has left, the client does not wait but returns that
// response, so the caller can pass the hint on.
//
// Retry budget, 10% over 10s with a floor of 10 retries a second
// ([WithRetryBudget]). Across all calls of a Client, the retries in the last
// 10s may not exceed max(10% of the calls in the last 10s, 10/s × 10s). From
// 100 calls a second on, the ratio binds, so a target that fails every
// request receives at most 1.1× the calls, never 3×; below that, the floor
// still gives a quiet client its few retries. The floor is a floor, not an
// addition as in Finagle's RetryBudget, which would let a busy client exceed
// the ratio. A retry the budget refuses ends the call with
// [ErrBudgetExhausted].
//
// Circuit breaker ([WithBreaker], [BreakerSettings], github.com/sony/gobreaker/v2).
// Each attempt passes the breaker. Closed, it counts attempts in a rolling
// 10s window and opens when 5 attempts in a row failed, or when at least
// half of at least 10 attempts failed. Open, it fails calls at once with
// [ErrCircuitOpen] without touching the network. After 10s it half-opens and
// lets 1 probe through: success closes it, failure opens it again. Failures
// are transport errors, timeouts, 5xx and 429; other 4xx answers are
// successes (the target works, the request was wrong), and calls the caller
// cancelled are not counted. State changes are logged and counted.
// [WithoutBreaker] turns it off.
//
// Response buffering, 1 MiB ([WithMaxBufferedBody]). A response body up to
// this size is read within the attempt, so a connection that breaks
// mid-body is retried like any failed attempt and the connection returns to
// the pool at once. A longer body is streamed to the caller after its first
// 1 MiB, still within the attempt's timeout; a break in the streamed part
// reaches the caller's Read. 0 turns buffering off.
//
// Fallbacks, none ([WithFallback]). When a call fails — Do would return an
// error because the breaker is open, attempts or the budget ran out, the
// deadline passed or the transport failed — the first matching [Fallback]
// may answer instead. [LastGood] serves the last 2xx answer to the same GET
// URL, from a bounded LRU with a TTL; [Static] serves a fixed answer. A
// fallback response carries the header [FallbackHeader] ("Keiyaku-Fallback:
// last-good" or "static"); [IsFallback] tests it. No fallback answers when
// the caller's own context ended, nor for responses Do returns as they came
// (a 500, or a 429 whose Retry-After is beyond the deadline).
//
// Transport, a clone of [http.DefaultTransport] without proxy and with 64
// idle connections per host ([WithTransport]). Tracing is composed by
// wrapping it: WithTransport(otelhttp.NewTransport(base)) makes one client
// span per attempt, children of the span in the request's context, and
// sends each attempt's traceparent.
//
// Logging, none ([WithLogger]): breaker state changes, at Warn when it
// opens and Info otherwise. Metrics, none ([WithMeterProvider]): the
// OpenTelemetry counters [MetricAttempts], [MetricRetries],
// [MetricBudgetExhausted], [MetricBreakerRejections],
// [MetricBreakerTransitions] (attributes target, from, to) and
// [MetricFallbacks] (attributes target, fallback), each with the attribute
// target.
//
// # Errors
//
// When Do gives up it returns an [*Error] with the number of attempts, the
// last status seen and the cause; errors.Is finds [ErrCircuitOpen],
// [ErrBudgetExhausted], [ErrAttemptsExhausted], context.DeadlineExceeded
// (attempt timeout or call deadline), context.Canceled, and the last
// transport error (say syscall.ECONNREFUSED). A retryable status (429, 502,
// 503, 504) that could not be retried away — attempts, budget or time ran
// out — is such an *Error with that StatusCode, not a response; with
// WithMaxAttempts(1) too. Response bodies of attempts that are not returned
// are closed.
package resilience
