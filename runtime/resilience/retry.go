package resilience

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// idempotent reports whether req may be sent twice: its method is
// idempotent (RFC 9110 §9.2.2) or it carries an Idempotency-Key header,
// which asks the server to apply it once.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	for _, v := range req.Header["Idempotency-Key"] {
		if v != "" {
			return true
		}
	}
	return false
}

// replayable reports whether req's body can be sent again: it has none, or
// GetBody returns a fresh copy (http.NewRequest sets it for *bytes.Buffer,
// *bytes.Reader and *strings.Reader bodies).
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// retryableStatus reports whether an attempt that got status should be
// retried: too many requests, bad gateway, unavailable, gateway timeout.
// 500 is not: it usually means a bug that answers the same every time, and
// the request may have been half applied.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// inFlightDuplicate reports a 409 Conflict with Retry-After in answer to a
// request carrying an Idempotency-Key: the server is still processing an
// earlier attempt with the same key (draft-ietf-httpapi-idempotency-key-
// header; runtime/httpserver answers so). That happens when an attempt
// timed out on the client but not on the server; the retry waits
// Retry-After and then gets the stored response. Any other 409 is the
// server's answer and is returned.
func inFlightDuplicate(req *http.Request, resp *http.Response) bool {
	return resp.StatusCode == http.StatusConflict && req.Header.Get("Idempotency-Key") != "" && resp.Header.Get("Retry-After") != ""
}

// retryableErrnos are the system errors of a connection that failed or was
// cut: the target is down, restarting or overloaded.
var retryableErrnos = []syscall.Errno{
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
	syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN,
}

// retryableErr reports whether a transport error is worth another attempt:
// connection refused, reset or cut short (EOF in the middle of a response),
// network timeouts, dial failures and temporary DNS failures. Errors of the
// request itself (bad URL, unsupported scheme) and TLS verification errors
// are not.
func retryableErr(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	for _, e := range retryableErrnos {
		if errors.Is(err, e) {
			return true
		}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// maxRetryAfter bounds the parsed Retry-After so that the duration cannot
// overflow; anything this long exceeds every deadline anyway.
const maxRetryAfter = 1_000_000 * time.Second

// retryAfter parses a Retry-After header: delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3). A date in the past means no wait. ok is false when the
// header is absent or malformed.
func retryAfter(h http.Header) (d time.Duration, ok bool) {
	vs := h["Retry-After"]
	if len(vs) == 0 {
		return 0, false
	}
	v := strings.TrimSpace(vs[0])
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return min(time.Duration(min(n, uint64(maxRetryAfter/time.Second)))*time.Second, maxRetryAfter), true
	} else if errors.Is(err, strconv.ErrRange) {
		return maxRetryAfter, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(time.Until(t), 0), maxRetryAfter), true
}
