package resilience

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Defaults of the policies. The package documentation explains each one.
const (
	DefaultAttemptTimeout = 2 * time.Second
	DefaultTimeout        = 5 * time.Second
	DefaultMaxAttempts    = 3
	DefaultBackoffInitial = 100 * time.Millisecond
	DefaultBackoffMax     = time.Second

	DefaultBudgetRatio        = 0.1
	DefaultBudgetMinPerSecond = 10.0
	DefaultBudgetWindow       = 10 * time.Second

	DefaultBreakerFailureRatio        = 0.5
	DefaultBreakerMinRequests         = 10
	DefaultBreakerConsecutiveFailures = 5
	DefaultBreakerWindow              = 10 * time.Second
	DefaultBreakerOpenTimeout         = 10 * time.Second
	DefaultBreakerHalfOpenProbes      = 1

	DefaultMaxBufferedBody = 1 << 20
)

// MaxAttemptsLimit is the largest attempt count [WithMaxAttempts] accepts:
// unlimited retries are an anti-pattern, and many more than a handful only
// pile load on a neighbour that is already failing.
const MaxAttemptsLimit = 10

// An Option configures a [Client]. Options are applied in order by [New],
// which then validates the result; a later option overrides an earlier one.
type Option func(*config)

// config is the validated configuration of a Client.
type config struct {
	attemptTimeout  time.Duration
	timeout         time.Duration
	maxAttempts     int
	backoffInitial  time.Duration
	backoffMax      time.Duration
	budgetRatio     float64
	budgetMin       float64
	budgetWindow    time.Duration
	breaker         BreakerSettings
	breakerOff      bool
	maxBufferedBody int64
	fallbacks       []fallbackRule
	transport       http.RoundTripper
	logger          *slog.Logger
	meterProvider   metric.MeterProvider
}

type fallbackRule struct {
	match func(*http.Request) bool
	fb    Fallback
}

func defaultConfig() config {
	return config{
		attemptTimeout:  DefaultAttemptTimeout,
		timeout:         DefaultTimeout,
		maxAttempts:     DefaultMaxAttempts,
		backoffInitial:  DefaultBackoffInitial,
		backoffMax:      DefaultBackoffMax,
		budgetRatio:     DefaultBudgetRatio,
		budgetMin:       DefaultBudgetMinPerSecond,
		budgetWindow:    DefaultBudgetWindow,
		maxBufferedBody: DefaultMaxBufferedBody,
		transport:       defaultTransport(),
		logger:          discardLogger,
		meterProvider:   noopMeter,
	}
}

// WithAttemptTimeout bounds each attempt: connecting, sending the request and
// receiving the response with its body — the part the client buffers (see
// [WithMaxBufferedBody]) and, for a longer body, the caller's reading of the
// rest. An attempt that times out before Do returns is retried. It must be
// positive; the default is 2s.
func WithAttemptTimeout(d time.Duration) Option {
	return func(c *config) { c.attemptTimeout = d }
}

// WithTimeout bounds a whole call to [Client.Do]: every attempt, every wait
// between attempts and the caller's reading of a body that was not buffered.
// No attempt runs past it, and no wait starts that would end after it. The
// request's context can only shorten it. It must be positive; the default is
// 5s.
func WithTimeout(d time.Duration) Option {
	return func(c *config) { c.timeout = d }
}

// WithMaxAttempts sets how many attempts, the first one included, a call may
// make. 1 turns retries off. It must be between 1 and [MaxAttemptsLimit];
// the default is 3.
func WithMaxAttempts(n int) Option {
	return func(c *config) { c.maxAttempts = n }
}

// WithBackoff sets the exponential backoff between attempts: before retry n
// (n = 1, 2, …) the client waits a uniformly random time in
// [0, min(max, initial·2ⁿ⁻¹)] ("full jitter"). initial must be positive and
// max at least initial; the defaults are 100ms and 1s.
func WithBackoff(initial, max time.Duration) Option {
	return func(c *config) { c.backoffInitial, c.backoffMax = initial, max }
}

// WithRetryBudget bounds retries across all calls of the client: a retry is
// allowed only while the retries of the last window stay within
// max(ratio × calls of the last window, minPerSecond × window seconds).
// ratio must be in [0, 1], minPerSecond non-negative and window at least
// 100ms; the defaults are 0.1, 10 and 10s.
func WithRetryBudget(ratio, minPerSecond float64, window time.Duration) Option {
	return func(c *config) { c.budgetRatio, c.budgetMin, c.budgetWindow = ratio, minPerSecond, window }
}

// BreakerSettings configures the circuit breaker. A zero field keeps its
// default.
type BreakerSettings struct {
	// FailureRatio opens the breaker when at least this share of the
	// attempts in Window failed, once MinRequests attempts were counted.
	// In (0, 1]; default 0.5.
	FailureRatio float64
	// MinRequests is the number of attempts in Window before FailureRatio
	// applies. Default 10.
	MinRequests int
	// ConsecutiveFailures opens the breaker after this many failed
	// attempts in a row, whatever the ratio. Default 5.
	ConsecutiveFailures int
	// Window is the rolling window (ten buckets) over which the closed
	// breaker counts attempts. Default 10s.
	Window time.Duration
	// OpenTimeout is how long the breaker stays open before it lets probes
	// through (half-open). Default 10s.
	OpenTimeout time.Duration
	// HalfOpenProbes is how many attempts the half-open breaker lets
	// through; that many successes in a row close it, one failure opens it
	// again. Default 1.
	HalfOpenProbes int
}

// WithBreaker configures the circuit breaker; zero fields of s keep their
// defaults (see [BreakerSettings]). It also undoes [WithoutBreaker].
func WithBreaker(s BreakerSettings) Option {
	return func(c *config) {
		c.breakerOff = false
		if s.FailureRatio != 0 {
			c.breaker.FailureRatio = s.FailureRatio
		}
		if s.MinRequests != 0 {
			c.breaker.MinRequests = s.MinRequests
		}
		if s.ConsecutiveFailures != 0 {
			c.breaker.ConsecutiveFailures = s.ConsecutiveFailures
		}
		if s.Window != 0 {
			c.breaker.Window = s.Window
		}
		if s.OpenTimeout != 0 {
			c.breaker.OpenTimeout = s.OpenTimeout
		}
		if s.HalfOpenProbes != 0 {
			c.breaker.HalfOpenProbes = s.HalfOpenProbes
		}
	}
}

// WithoutBreaker turns the circuit breaker off: every call reaches the
// network. The breaker is on by default.
func WithoutBreaker() Option {
	return func(c *config) { c.breakerOff = true }
}

// WithFallback adds a fallback for the requests match accepts (all requests
// if match is nil). When a call fails — see the package documentation for
// what counts — the fallbacks are tried in the order they were added and the
// first one that matches and answers serves the call. fb must not be nil. By
// default there is no fallback.
func WithFallback(match func(*http.Request) bool, fb Fallback) Option {
	return func(c *config) { c.fallbacks = append(c.fallbacks, fallbackRule{match: match, fb: fb}) }
}

// WithMaxBufferedBody sets how many bytes of a response body the client reads
// within the attempt before returning the response. A body that fits is read
// in full, so a connection that breaks mid-body is retried like any other
// failed attempt, and the connection goes back to the pool at once. A longer
// body is returned as a stream: what follows the first n bytes is read by the
// caller, within the attempt timeout, and a failure there is not retried. 0
// turns buffering off. It must not be negative; the default is 1 MiB.
func WithMaxBufferedBody(n int64) Option {
	return func(c *config) { c.maxBufferedBody = n }
}

// WithTransport sets the [http.RoundTripper] that sends each attempt. The
// default is a clone of [http.DefaultTransport] without a proxy (a library
// does not read HTTP_PROXY; pass a transport to use one) and with 64 idle
// connections per host.
//
// Tracing is composed here: WithTransport(otelhttp.NewTransport(base))
// creates one client span per attempt, each a child of the span in the
// request's context, and injects its traceparent into that attempt.
func WithTransport(rt http.RoundTripper) Option {
	return func(c *config) { c.transport = rt }
}

// WithLogger sets the logger that records breaker state changes. It must not
// be nil; by default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// WithMeterProvider sets the OpenTelemetry meter provider for the client's
// counters (see the package documentation). It must not be nil; by default
// no metrics are recorded.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.meterProvider = mp }
}

// Policy holds the tunable numbers of a [Client] as plain values, for code
// that reads them from configuration (keiyaku.yaml). A zero field keeps the
// default, so the zero Policy is the default policy.
type Policy struct {
	AttemptTimeout time.Duration // see WithAttemptTimeout
	Timeout        time.Duration // see WithTimeout
	MaxAttempts    int           // see WithMaxAttempts

	BackoffInitial time.Duration // see WithBackoff
	BackoffMax     time.Duration // see WithBackoff

	BudgetRatio        float64       // see WithRetryBudget
	BudgetMinPerSecond float64       // see WithRetryBudget
	BudgetWindow       time.Duration // see WithRetryBudget

	Breaker        BreakerSettings // see WithBreaker
	DisableBreaker bool            // see WithoutBreaker

	// MaxBufferedBody: see WithMaxBufferedBody. Zero keeps the default;
	// turning buffering off takes WithMaxBufferedBody(0).
	MaxBufferedBody int64
}

// Options returns the options that apply p: one for each non-zero field.
func (p Policy) Options() []Option {
	var opts []Option
	set := func(nonZero bool, o Option) {
		if nonZero {
			opts = append(opts, o)
		}
	}
	set(p.AttemptTimeout != 0, func(c *config) { c.attemptTimeout = p.AttemptTimeout })
	set(p.Timeout != 0, func(c *config) { c.timeout = p.Timeout })
	set(p.MaxAttempts != 0, func(c *config) { c.maxAttempts = p.MaxAttempts })
	set(p.BackoffInitial != 0, func(c *config) { c.backoffInitial = p.BackoffInitial })
	set(p.BackoffMax != 0, func(c *config) { c.backoffMax = p.BackoffMax })
	set(p.BudgetRatio != 0, func(c *config) { c.budgetRatio = p.BudgetRatio })
	set(p.BudgetMinPerSecond != 0, func(c *config) { c.budgetMin = p.BudgetMinPerSecond })
	set(p.BudgetWindow != 0, func(c *config) { c.budgetWindow = p.BudgetWindow })
	set(p.Breaker != BreakerSettings{}, WithBreaker(p.Breaker))
	set(p.DisableBreaker, WithoutBreaker())
	set(p.MaxBufferedBody != 0, WithMaxBufferedBody(p.MaxBufferedBody))
	return opts
}

// withBreakerDefaults fills the zero fields of s.
func withBreakerDefaults(s BreakerSettings) BreakerSettings {
	if s.FailureRatio == 0 {
		s.FailureRatio = DefaultBreakerFailureRatio
	}
	if s.MinRequests == 0 {
		s.MinRequests = DefaultBreakerMinRequests
	}
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = DefaultBreakerConsecutiveFailures
	}
	if s.Window == 0 {
		s.Window = DefaultBreakerWindow
	}
	if s.OpenTimeout == 0 {
		s.OpenTimeout = DefaultBreakerOpenTimeout
	}
	if s.HalfOpenProbes == 0 {
		s.HalfOpenProbes = DefaultBreakerHalfOpenProbes
	}
	return s
}

// maxCount bounds the breaker's counts, which gobreaker keeps as uint32.
const maxCount = 1 << 20

// validate checks c and fills the defaults that need allocation.
func (c *config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.attemptTimeout <= 0 {
		bad("attempt timeout %v: must be positive", c.attemptTimeout)
	}
	if c.timeout <= 0 {
		bad("timeout %v: must be positive", c.timeout)
	}
	if c.maxAttempts < 1 || c.maxAttempts > MaxAttemptsLimit {
		bad("max attempts %d: must be between 1 and %d", c.maxAttempts, MaxAttemptsLimit)
	}
	if c.backoffInitial <= 0 || c.backoffMax < c.backoffInitial {
		bad("backoff %v..%v: initial must be positive and max at least initial", c.backoffInitial, c.backoffMax)
	}
	if !(c.budgetRatio >= 0 && c.budgetRatio <= 1) { // also rejects NaN
		bad("retry budget ratio %v: must be in [0, 1]", c.budgetRatio)
	}
	if !(c.budgetMin >= 0 && c.budgetMin <= 1e6) {
		bad("retry budget minimum %v per second: must be in [0, 1e6]", c.budgetMin)
	}
	if c.budgetWindow < minBudgetWindow {
		bad("retry budget window %v: must be at least %v", c.budgetWindow, minBudgetWindow)
	}
	c.breaker = withBreakerDefaults(c.breaker)
	b := c.breaker
	if !(b.FailureRatio > 0 && b.FailureRatio <= 1) {
		bad("breaker failure ratio %v: must be in (0, 1]", b.FailureRatio)
	}
	if b.MinRequests < 1 || b.MinRequests > maxCount {
		bad("breaker min requests %d: must be between 1 and %d", b.MinRequests, maxCount)
	}
	if b.ConsecutiveFailures < 1 || b.ConsecutiveFailures > maxCount {
		bad("breaker consecutive failures %d: must be between 1 and %d", b.ConsecutiveFailures, maxCount)
	}
	if b.Window < 10*time.Millisecond {
		bad("breaker window %v: must be at least 10ms", b.Window)
	}
	if b.OpenTimeout <= 0 {
		bad("breaker open timeout %v: must be positive", b.OpenTimeout)
	}
	if b.HalfOpenProbes < 1 || b.HalfOpenProbes > maxCount {
		bad("breaker half-open probes %d: must be between 1 and %d", b.HalfOpenProbes, maxCount)
	}
	if c.maxBufferedBody < 0 {
		bad("max buffered body %d: must not be negative", c.maxBufferedBody)
	}
	for i, r := range c.fallbacks {
		if r.fb == nil {
			bad("fallback %d: nil", i)
			continue
		}
		if v, ok := r.fb.(interface{ validate() error }); ok {
			if err := v.validate(); err != nil {
				bad("fallback %d: %w", i, err)
			}
		}
	}
	if c.transport == nil {
		bad("nil transport")
	}
	if c.logger == nil {
		bad("nil logger")
	}
	if c.meterProvider == nil {
		bad("nil meter provider")
	}
	return errors.Join(errs...)
}

// defaultTransport clones http.DefaultTransport without a proxy and with
// more idle connections per host than its 2, which would make a busy client
// open and close connections all the time.
// If a program replaced http.DefaultTransport with another type, that
// transport is used as it is.
func defaultTransport() http.RoundTripper {
	dt, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport
	}
	t := dt.Clone()
	t.Proxy = nil
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	t.MaxResponseHeaderBytes = 1 << 20
	return t
}

// discardLogger and noopMeter are the defaults that WithLogger and
// WithMeterProvider replace; nil passed to them is an error.
var (
	discardLogger = slog.New(slog.DiscardHandler)
	noopMeter     = noop.NewMeterProvider()
)
