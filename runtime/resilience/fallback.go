package resilience

import (
	"bytes"
	"container/list"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FallbackHeader is the header a [Client] sets on every response served by a
// [Fallback] instead of the network; its value says which fallback:
// [FallbackLastGood], [FallbackStatic], or the value a custom fallback set
// ("custom" if it set none). See [IsFallback].
const FallbackHeader = "Keiyaku-Fallback"

// Values of [FallbackHeader].
const (
	FallbackLastGood = "last-good"
	FallbackStatic   = "static"
	FallbackCustom   = "custom"
)

// IsFallback reports whether resp was served by a fallback rather than by the
// target: whether it carries [FallbackHeader]. A neighbour that served its own
// fallback and passed the header on is reported too, which is the truth.
func IsFallback(resp *http.Response) bool {
	return resp != nil && resp.Header.Get(FallbackHeader) != ""
}

// A Fallback answers a request whose call failed, in place of the target.
//
// Serve is called with the request and the error [Client.Do] would
// otherwise return (an [*Error]); it returns the response to give the caller,
// or nil to let the error through. It must not block on I/O, must be safe for
// concurrent use, and must return a fresh response each time: the caller owns
// it and closes its body. The client sets [FallbackHeader] on it if Serve did
// not.
type Fallback interface {
	Serve(req *http.Request, err error) *http.Response
}

// A Recorder is a [Fallback] that learns from successes: the client calls
// Record with every response whose status is below 500 (and not 429) that it
// returns for a request the fallback's match function accepts, with the
// complete body. A body the client buffered (see [WithMaxBufferedBody]) is
// recorded before the caller sees the response; a streamed one as the caller
// reads it, when it reaches the end, and only if it is at most
// [MaxRecordedBody] bytes long. body is only valid during the call. Record
// must not keep resp or body and must be safe for concurrent use.
type Recorder interface {
	Fallback
	Record(req *http.Request, resp *http.Response, body []byte)
}

// MaxRecordedBody is the largest body a [Recorder] is shown.
const MaxRecordedBody = 1 << 20

// LastGood returns a [Fallback] that remembers the last successful (2xx)
// response to each GET and serves it, marked "Keiyaku-Fallback: last-good"
// and with an Age header, when a later call for the same thing fails.
// A response is remembered for ttl after it was received; at most
// maxEntries responses are kept, the least recently used dropped first,
// each with a body of at most [MaxRecordedBody] bytes. ttl and maxEntries
// must be positive; [New] reports them otherwise.
//
// A remembered response is only ever served to the caller it was given
// to, for the same request: it is keyed by the URL, the caller's identity
// (a SHA-256 of the request's Authorization and Cookie headers; no
// credentials are kept) and the values of the request headers that the
// response's Vary header names. Responses marked "Cache-Control: no-store"
// or "private", and responses with "Vary: *", are never remembered.
//
// Use one LastGood per client; the remembered bodies stay in memory for the
// life of the client.
func LastGood(ttl time.Duration, maxEntries int) Fallback {
	return &lastGood{ttl: ttl, max: maxEntries, lru: list.New(), byKey: make(map[string]*list.Element), vary: make(map[string]*varyNames)}
}

type lastGood struct {
	ttl time.Duration
	max int

	mu    sync.Mutex
	lru   *list.List // of *goodEntry, most recent first
	byKey map[string]*list.Element
	vary  map[string]*varyNames // by primary key (caller and URL)
}

// varyNames is what the last response for a caller and URL said it varies
// on, and how many remembered entries have that primary key.
type varyNames struct {
	names   []string // canonical header names, sorted
	entries int
}

type goodEntry struct {
	key     string
	primary string
	status  int
	header  http.Header
	body    []byte
	stored  time.Time
}

func (g *lastGood) validate() error {
	if g.ttl <= 0 {
		return fmt.Errorf("last-good ttl %v: must be positive", g.ttl)
	}
	if g.max <= 0 {
		return fmt.Errorf("last-good max entries %d: must be positive", g.max)
	}
	return nil
}

// primaryKey is the caller's identity and req's URL. The identity is a
// hash of the headers that say who calls, so that no answer given to one
// caller is ever served to another.
func primaryKey(req *http.Request) string {
	h := sha256.New()
	for _, name := range []string{"Authorization", "Cookie"} {
		for _, v := range req.Header.Values(name) {
			_, _ = io.WriteString(h, name)
			_, _ = h.Write([]byte{0})
			_, _ = io.WriteString(h, v)
			_, _ = h.Write([]byte{0})
		}
	}
	return string(h.Sum(nil)) + req.URL.String()
}

// fullKey is primary plus the values of req's headers named by names.
func fullKey(primary string, names []string, req *http.Request) string {
	var b strings.Builder
	b.WriteString(primary)
	for _, n := range names {
		b.WriteByte(0)
		b.WriteString(n)
		for _, v := range req.Header.Values(n) {
			b.WriteByte(0)
			b.WriteString(strconv.Quote(v))
		}
	}
	return b.String()
}

// parseVary returns the canonical header names of Vary values, sorted and
// without duplicates, and whether one of them is "*" (varies on everything).
func parseVary(values []string) (names []string, star bool) {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			switch {
			case part == "":
			case part == "*":
				return nil, true
			default:
				names = append(names, http.CanonicalHeaderKey(part))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), false
}

// Record remembers resp if it is a complete 2xx answer to a GET that may be
// kept (not no-store, not private, not Vary: *).
func (g *lastGood) Record(req *http.Request, resp *http.Response, body []byte) {
	if req.Method != http.MethodGet && req.Method != "" ||
		resp.StatusCode < 200 || resp.StatusCode > 299 ||
		hasToken(resp.Header.Values("Cache-Control"), "no-store") ||
		hasToken(resp.Header.Values("Cache-Control"), "private") {
		return
	}
	names, star := parseVary(resp.Header.Values("Vary"))
	if star {
		return
	}
	primary := primaryKey(req)
	e := &goodEntry{
		key:     fullKey(primary, names, req),
		primary: primary,
		status:  resp.StatusCode,
		header:  resp.Header.Clone(),
		body:    bytes.Clone(body),
		stored:  time.Now(),
	}
	e.header.Del(FallbackHeader)
	g.mu.Lock()
	defer g.mu.Unlock()
	if old, ok := g.byKey[e.key]; ok {
		old.Value = e
		g.lru.MoveToFront(old)
	} else {
		g.byKey[e.key] = g.lru.PushFront(e)
		vn := g.vary[primary]
		if vn == nil {
			vn = &varyNames{}
			g.vary[primary] = vn
		}
		vn.entries++
	}
	g.vary[primary].names = names
	for g.lru.Len() > g.max {
		g.removeLocked(g.lru.Back())
	}
}

// removeLocked forgets the entry of el. g.mu is held.
func (g *lastGood) removeLocked(el *list.Element) {
	e := g.lru.Remove(el).(*goodEntry)
	delete(g.byKey, e.key)
	if vn := g.vary[e.primary]; vn != nil {
		if vn.entries--; vn.entries <= 0 {
			delete(g.vary, e.primary)
		}
	}
}

// Serve returns the response remembered for req — the same caller, URL and
// values of the headers the response varied on — if it is fresh.
func (g *lastGood) Serve(req *http.Request, _ error) *http.Response {
	if req.Method != http.MethodGet && req.Method != "" {
		return nil
	}
	primary := primaryKey(req)
	now := time.Now()
	g.mu.Lock()
	vn := g.vary[primary]
	if vn == nil {
		g.mu.Unlock()
		return nil
	}
	el, ok := g.byKey[fullKey(primary, vn.names, req)]
	if !ok {
		g.mu.Unlock()
		return nil
	}
	e := el.Value.(*goodEntry)
	age := now.Sub(e.stored)
	if age >= g.ttl {
		g.removeLocked(el)
		g.mu.Unlock()
		return nil
	}
	g.lru.MoveToFront(el)
	g.mu.Unlock()

	h := e.header.Clone()
	h.Set(FallbackHeader, FallbackLastGood)
	h.Set("Age", strconv.FormatInt(int64(age/time.Second), 10))
	return newResponse(req, e.status, h, e.body)
}

// Static returns a [Fallback] that answers every failed call it is given
// with status, a copy of header and body, marked "Keiyaku-Fallback:
// static". status must be between 200 and 599; [New] reports it otherwise.
func Static(status int, header http.Header, body []byte) Fallback {
	return &static{status: status, header: header.Clone(), body: bytes.Clone(body)}
}

type static struct {
	status int
	header http.Header
	body   []byte
}

func (s *static) validate() error {
	if s.status < 200 || s.status > 599 {
		return fmt.Errorf("static status %d: must be between 200 and 599", s.status)
	}
	return nil
}

// Serve returns the static response.
func (s *static) Serve(req *http.Request, _ error) *http.Response {
	h := s.header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	h.Set(FallbackHeader, FallbackStatic)
	return newResponse(req, s.status, h, s.body)
}

// newResponse builds a response to req from parts; body is shared, not
// copied, and must not change.
func newResponse(req *http.Request, status int, h http.Header, body []byte) *http.Response {
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	var rc io.ReadCloser = http.NoBody
	if len(body) > 0 && req.Method != http.MethodHead {
		rc = io.NopCloser(bytes.NewReader(body))
	}
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          rc,
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// hasToken reports whether a comma-separated header list holds token.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(part, "=")
			if strings.EqualFold(strings.TrimSpace(name), token) {
				return true
			}
		}
	}
	return false
}

// serveFallback gives err to the matching fallbacks in order and returns the
// first response one of them serves, marked, or nil.
func (c *Client) serveFallback(req *http.Request, err error) *http.Response {
	for _, r := range c.cfg.fallbacks {
		if r.match != nil && !r.match(req) {
			continue
		}
		resp := r.fb.Serve(req, err)
		if resp == nil {
			continue
		}
		if resp.Header == nil {
			resp.Header = make(http.Header)
		}
		kind := resp.Header.Get(FallbackHeader)
		if kind == "" {
			kind = FallbackCustom
			resp.Header.Set(FallbackHeader, kind)
		}
		if resp.Body == nil {
			resp.Body = http.NoBody
		}
		if resp.Request == nil {
			resp.Request = req
		}
		c.metrics.fallback(req.Context(), kind)
		return resp
	}
	return nil
}
