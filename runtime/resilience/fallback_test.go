package resilience

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestLastGood pins what LastGood remembers and serves: 2xx GET answers per
// URL, for ttl, at most maxEntries of them (least recently used dropped),
// not no-store answers, and never for another method.
func TestLastGood(t *testing.T) {
	t.Parallel()
	answer := func(status int, body string, header ...string) *http.Response {
		h := http.Header{"Content-Type": {"application/json"}}
		for i := 0; i+1 < len(header); i += 2 {
			h.Set(header[i], header[i+1])
		}
		return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
	}
	req := func(method, url string) *http.Request {
		r, err := http.NewRequest(method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	body := func(resp *http.Response) string {
		if resp == nil {
			return "<none>"
		}
		return readAll(t, resp)
	}
	synctest.Test(t, func(t *testing.T) {
		g := LastGood(time.Minute, 2).(*lastGood)
		record := func(method, url string, resp *http.Response, b string) {
			g.Record(req(method, url), resp, []byte(b))
		}
		record("GET", "http://m/1", answer(200, "one"), "one")
		record("GET", "http://m/2", answer(203, "two"), "two")
		record("GET", "http://m/3", answer(404, "nope"), "nope")
		record("GET", "http://m/4", answer(200, "secret", "Cache-Control", "private, no-store"), "secret")
		record("POST", "http://m/5", answer(201, "made"), "made")

		for _, tc := range []struct{ method, url, want string }{
			{"GET", "http://m/1", "one"},
			{"GET", "http://m/2", "two"},
			{"GET", "http://m/3", "<none>"},
			{"GET", "http://m/4", "<none>"},
			{"GET", "http://m/5", "<none>"},
			{"POST", "http://m/1", "<none>"},
		} {
			resp := g.Serve(req(tc.method, tc.url), errors.New("down"))
			if got := body(resp); got != tc.want {
				t.Errorf("%s %s: %q, want %q", tc.method, tc.url, got, tc.want)
			}
		}

		resp := g.Serve(req("GET", "http://m/1"), nil)
		if resp.StatusCode != 200 || resp.Header.Get(FallbackHeader) != FallbackLastGood ||
			resp.Header.Get("Content-Type") != "application/json" || resp.ContentLength != 3 {
			t.Errorf("served %d %v (length %d)", resp.StatusCode, resp.Header, resp.ContentLength)
		}
		readAll(t, resp)

		// m/1 was used last, so m/2 is dropped for m/6.
		record("GET", "http://m/6", answer(200, "six"), "six")
		if got := body(g.Serve(req("GET", "http://m/2"), nil)); got != "<none>" {
			t.Errorf("least recently used entry still served: %q", got)
		}
		if g.lru.Len() != 2 || len(g.byKey) != 2 {
			t.Errorf("%d entries, %d keys; want 2", g.lru.Len(), len(g.byKey))
		}

		time.Sleep(59 * time.Second)
		resp = g.Serve(req("GET", "http://m/6"), nil)
		if got := resp.Header.Get("Age"); got != "59" {
			t.Errorf("Age %q, want 59", got)
		}
		readAll(t, resp)
		time.Sleep(time.Second)
		if got := body(g.Serve(req("GET", "http://m/6"), nil)); got != "<none>" {
			t.Errorf("expired entry served: %q", got)
		}
	})
}

// TestLastGoodDoesNotConsumeBody pins that remembering an answer leaves the
// caller's body whole, and that the remembered copy is independent of it.
func TestLastGoodDoesNotConsumeBody(t *testing.T) {
	t.Parallel()
	s := &script{steps: []step{ok("payload")}, then: status(503)}
	url := serve(t, s)
	c := newClient(t, WithFallback(func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/cached") },
		LastGood(time.Hour, 10)))
	resp, err := get(t.Context(), c, url+"/cached")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); body != "payload" {
		t.Fatalf("caller got %q", body)
	}
	for range 2 { // the buffer went back to the pool and may be reused
		resp, err := get(t.Context(), c, url+"/cached")
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); body != "payload" || !IsFallback(resp) {
			t.Errorf("fallback %q %v", body, resp.Header)
		}
	}
	if _, err := get(t.Context(), c, url+"/other"); err == nil {
		t.Error("a URL the match function rejects got a fallback")
	}
}

// TestStaticAndCustomFallbacks pins the order of fallbacks, the marks set on
// their answers, and that a fallback answering nil lets the error through.
func TestStaticAndCustomFallbacks(t *testing.T) {
	t.Parallel()
	s := &script{then: status(503)}
	url := serve(t, s)
	var seen error
	custom := fallbackFunc(func(r *http.Request, err error) *http.Response {
		seen = err
		if r.URL.Path == "/none" {
			return nil
		}
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("custom"))}
	})
	c := newClient(t, WithMaxAttempts(1),
		WithFallback(func(r *http.Request) bool { return r.URL.Path != "/static" }, custom),
		WithFallback(nil, Static(http.StatusOK, http.Header{"Content-Type": {"application/json"}}, []byte(`{"rooms":[]}`))))
	for _, tc := range []struct{ path, mark, body string }{
		{"/custom", FallbackCustom, "custom"},
		{"/static", FallbackStatic, `{"rooms":[]}`},
		{"/none", FallbackStatic, `{"rooms":[]}`},
	} {
		resp, err := get(t.Context(), c, url+tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if got := readAll(t, resp); got != tc.body || resp.Header.Get(FallbackHeader) != tc.mark || resp.Request == nil {
			t.Errorf("%s: %q marked %q, want %q marked %q", tc.path, got, resp.Header.Get(FallbackHeader), tc.body, tc.mark)
		}
	}
	var e *Error
	if !errors.As(seen, &e) || e.StatusCode != 503 {
		t.Errorf("fallback saw %v, want the *Error", seen)
	}
}

type fallbackFunc func(*http.Request, error) *http.Response

func (f fallbackFunc) Serve(r *http.Request, err error) *http.Response { return f(r, err) }

// TestIsFallback pins IsFallback on the edge cases.
func TestIsFallback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		resp *http.Response
		want bool
	}{
		{nil, false},
		{&http.Response{Header: http.Header{}}, false},
		{&http.Response{Header: http.Header{FallbackHeader: {"static"}}}, true},
	} {
		if got := IsFallback(tc.resp); got != tc.want {
			t.Errorf("IsFallback(%v) = %v", tc.resp, got)
		}
	}
}

// TestLastGoodPerCaller pins the fix of a cross-caller leak: during an
// outage, the last-good answer is served only to the caller it was given to
// (same Authorization), for the same values of the headers its Vary names,
// and private or no-store answers are never served at all. Before, the
// cache was keyed by URL alone, so one caller got another's answer.
func TestLastGoodPerCaller(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		switch r.URL.Path {
		case "/private":
			w.Header().Set("Cache-Control", "private, max-age=60")
		case "/no-store":
			w.Header().Set("Cache-Control", "no-store")
		case "/vary-star":
			w.Header().Set("Vary", "*")
		}
		w.Header().Set("Vary", w.Header().Get("Vary")+", accept-language")
		fmt.Fprintf(w, "%s for %s in %s", r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Accept-Language"))
	}))
	c := newClient(t, WithMaxAttempts(1), WithFallback(nil, LastGood(time.Hour, 100)))
	call := func(path, auth, lang string) (string, bool) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("Accept-Language", lang)
		resp, err := c.Do(req)
		if err != nil { // the 503 of the outage, with no fallback to serve
			return "error", false
		}
		return readAll(t, resp), IsFallback(resp)
	}
	const alice, bob = "Bearer alice", "Bearer bob"
	for _, p := range []string{"/shared", "/private", "/no-store", "/vary-star"} {
		call(p, alice, "ja")
	}
	call("/shared", "", "ja") // no Authorization: a caller of its own
	down.Store(true)

	for _, tc := range []struct {
		name, path, auth, lang, want string
		fallback                     bool
	}{
		{"the same caller gets its own answer", "/shared", alice, "ja", "/shared for Bearer alice in ja", true},
		{"another caller never gets it", "/shared", bob, "ja", "error", false},
		{"no Authorization gets the anonymous answer", "/shared", "", "ja", "/shared for  in ja", true},
		{"another value of a Vary header", "/shared", alice, "en", "error", false},
		{"private is never kept", "/private", alice, "ja", "error", false},
		{"no-store is never kept", "/no-store", alice, "ja", "error", false},
		{"Vary: * is never kept", "/vary-star", alice, "ja", "error", false},
	} {
		got, fb := call(tc.path, tc.auth, tc.lang)
		if got != tc.want || fb != tc.fallback {
			t.Errorf("%s: %q (fallback %v), want %q (fallback %v)", tc.name, got, fb, tc.want, tc.fallback)
		}
	}
}
