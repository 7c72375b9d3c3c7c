package resilience

import (
	"errors"
	"strconv"
	"strings"
)

// ErrCircuitOpen is the cause of an [*Error] when the target's circuit
// breaker is open (or half-open with all of its probes in flight): the call
// failed at once, without touching the network. Test for it with errors.Is.
var ErrCircuitOpen = errors.New("circuit breaker is open")

// ErrBudgetExhausted is the cause of an [*Error] when a retry was due but the
// target's retry budget had no room for it. Test for it with errors.Is.
var ErrBudgetExhausted = errors.New("retry budget exhausted")

// ErrAttemptsExhausted is the cause of an [*Error] when the last allowed
// attempt failed with a retryable outcome. Test for it with errors.Is.
var ErrAttemptsExhausted = errors.New("attempts exhausted")

// Error is the error [Client.Do] returns when it gives up on a request. It
// records how many attempts reached the network, the status of the last
// response seen (0 if none) and why the call failed. Err wraps one of
// [ErrCircuitOpen], [ErrBudgetExhausted], [ErrAttemptsExhausted] or a
// context error, joined with the last transport error if there was one, so
// errors.Is works on both.
//
// Use errors.As to get at it:
//
//	var e *resilience.Error
//	if errors.As(err, &e) && e.StatusCode == http.StatusServiceUnavailable { … }
type Error struct {
	// Target is the name the [Client] was created with.
	Target string
	// Method and URL identify the request; the URL has its password
	// redacted.
	Method, URL string
	// Attempts is the number of attempts that were sent. It is 0 when the
	// breaker rejected the first attempt.
	Attempts int
	// StatusCode is the status of the last response received, 0 if no
	// attempt got a response.
	StatusCode int
	// Err is the cause.
	Err error
}

// Error returns a one-line description, e.g.
// "member: GET http://member/members/1: 3 attempts, last status 503: attempts exhausted".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Target)
	b.WriteString(": ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URL)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.Attempts))
	if e.Attempts == 1 {
		b.WriteString(" attempt")
	} else {
		b.WriteString(" attempts")
	}
	if e.StatusCode != 0 {
		b.WriteString(", last status ")
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// wrapCause returns reason, or reason and last joined when last adds
// information (it is not nil and not already reason).
func wrapCause(reason, last error) error {
	if last == nil || errors.Is(last, reason) {
		if reason == nil {
			return last
		}
		return reason
	}
	if reason == nil {
		return last
	}
	return &causeError{reason: reason, last: last}
}

// causeError is reason followed by the last transport error; both match
// errors.Is.
type causeError struct{ reason, last error }

func (e *causeError) Error() string   { return e.reason.Error() + ": " + e.last.Error() }
func (e *causeError) Unwrap() []error { return []error{e.reason, e.last} }
