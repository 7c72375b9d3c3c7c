//go:build browser

package docs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The browser test needs Debian's chromium and chromium-driver; make docs
// installs them. Run it with:
//
//	go test -tags browser -run TestBrowser ./tools/internal/docs/ -args -site=$PWD/site -screenshot=$PWD/docs/catalog.png
var (
	siteFlag       = flag.String("site", "", "folder of a built catalog to test; default: build the repository's catalog into a temporary folder")
	screenshotFlag = flag.String("screenshot", "", "write a PNG of the service map page to this file")
	driverFlag     = flag.String("chromedriver", "chromedriver", "the chromedriver binary")
	chromiumFlag   = flag.String("chromium", "", "the Chromium binary; default: chromium or chromium-browser on PATH")
)

// TestBrowser loads every page of the catalog in headless Chromium, driven
// through chromedriver's W3C WebDriver HTTP API, and pins that no page logs
// a console error or warning (a CSP violation is one), that no request fails
// or leaves the test server, that the style sheet is fetched, and that the
// service map's SVG is in the DOM with its boxes and arrows. A deliberately
// broken page is loaded too and must be reported, so the checks can fail.
func TestBrowser(t *testing.T) {
	dir := *siteFlag
	if dir == "" {
		_, site := buildRepo(t, WithChangelog(Changelog{From: "baseline", To: "workspace"}))
		dir = filepath.Join(t.TempDir(), "site")
		if err := site.Write(dir); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var pages []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".html") {
			pages = append(pages, e.Name())
		}
	}
	if len(pages) < 4 {
		t.Fatalf("%s holds %d pages: %v", dir, len(pages), pages)
	}

	rec := &recorder{}
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(dir)))
	mux.HandleFunc("/__broken.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, `<!DOCTYPE html><html><head><title>broken</title><link rel="stylesheet" href="missing.css"></head><body><script>console.error("boom")</script></body></html>`)
	})
	srv := httptest.NewServer(rec.wrap(mux))
	defer srv.Close()

	wd := startDriver(t)
	sess := wd.newSession(t)

	for _, page := range pages {
		t.Run(page, func(t *testing.T) {
			rec.reset()
			problems := sess.load(t, srv.URL, page)
			problems = append(problems, rec.failures()...)
			for _, p := range problems {
				t.Error(p)
			}
			if !rec.fetched("/style.css") && !sess.cached {
				t.Errorf("%s: the style sheet was not requested", page)
			}
			sess.cached = true
			if title := sess.title(t); !strings.Contains(title, "Keiyaku contract catalog") {
				t.Errorf("%s: title %q", page, title)
			}
		})
	}
	t.Run("map is drawn", func(t *testing.T) {
		sess.load(t, srv.URL, MapPage)
		if n := sess.count(t, "svg.service-map a.node rect"); n < 2 {
			t.Errorf("the map shows %d service boxes", n)
		}
		if n := sess.count(t, "svg.service-map g.edge path"); n < 1 {
			t.Errorf("the map shows %d arrows", n)
		}
	})
	t.Run("broken page is reported", func(t *testing.T) {
		rec.reset()
		problems := append(sess.load(t, srv.URL, "__broken.html"), rec.failures()...)
		joined := strings.Join(problems, "\n")
		if !strings.Contains(joined, "missing.css") {
			t.Errorf("the failed request for missing.css was not reported: %q", joined)
		}
		if !strings.Contains(joined, "console") {
			t.Errorf("the console error was not reported: %q", joined)
		}
	})
	if *screenshotFlag != "" {
		sess.load(t, srv.URL, MapPage)
		png := sess.screenshot(t)
		if err := os.MkdirAll(filepath.Dir(*screenshotFlag), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshotFlag, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", *screenshotFlag, len(png))
	}
}

// recorder records the status of every request the test server answers.
type recorder struct {
	mu   sync.Mutex
	seen []string // "status path"
}

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, req)
		r.mu.Lock()
		r.seen = append(r.seen, fmt.Sprintf("%d %s", sw.status, req.URL.Path))
		r.mu.Unlock()
	})
}

func (r *recorder) reset() {
	r.mu.Lock()
	r.seen = nil
	r.mu.Unlock()
}

func (r *recorder) fetched(path string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.seen {
		if strings.HasSuffix(s, " "+path) {
			return true
		}
	}
	return false
}

func (r *recorder) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.seen {
		if s[0] != '2' && s[0] != '3' {
			out = append(out, "server answered "+s)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// driver is a running chromedriver.
type driver struct {
	base   string
	client *http.Client
}

// startDriver starts chromedriver on a free loopback port and waits until
// it is ready; the test's cleanup stops it.
func startDriver(t *testing.T) *driver {
	t.Helper()
	bin, err := exec.LookPath(*driverFlag)
	if err != nil {
		t.Fatalf("chromedriver not found (%v): apt-get install chromium chromium-driver, or run make docs", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, fmt.Sprintf("--port=%d", port), "--allowed-ips=127.0.0.1")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	d := &driver{base: fmt.Sprintf("http://127.0.0.1:%d", port), client: &http.Client{Timeout: 60 * time.Second}}
	for range 100 { // at most 10 s
		var status struct {
			Value struct {
				Ready bool `json:"ready"`
			} `json:"value"`
		}
		if err := d.call(http.MethodGet, "/status", nil, &status); err == nil && status.Value.Ready {
			return d
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("chromedriver did not get ready in 10s:\n%s", logs.String())
	return nil
}

// call sends one WebDriver command and decodes its answer into out.
func (d *driver) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, d.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// session is one WebDriver session: one headless Chromium.
type session struct {
	d      *driver
	id     string
	cached bool // the style sheet may come from the cache after the first page
}

func (d *driver) newSession(t *testing.T) *session {
	t.Helper()
	chromium := *chromiumFlag
	if chromium == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				chromium = p
				break
			}
		}
	}
	if chromium == "" {
		t.Fatal("chromium not found: apt-get install chromium chromium-driver, or run make docs")
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": chromium,
			"args": []string{
				"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
				"--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
				"--user-data-dir=" + t.TempDir(), "--window-size=1300,1000", "--hide-scrollbars",
			},
		},
		"goog:loggingPrefs": map[string]string{"browser": "ALL", "performance": "ALL"},
	}}}
	var resp struct {
		Value struct {
			SessionID string `json:"sessionId"`
		} `json:"value"`
	}
	if err := d.call(http.MethodPost, "/session", caps, &resp); err != nil {
		t.Fatalf("start a browser session: %v", err)
	}
	s := &session{d: d, id: resp.Value.SessionID}
	t.Cleanup(func() { _ = d.call(http.MethodDelete, "/session/"+s.id, nil, nil) })
	return s
}

func (s *session) path(p string) string { return "/session/" + s.id + p }

// load navigates to a page (WebDriver waits for its load event) and returns
// what went wrong: console messages at warning level or above, requests
// that failed, answered 4xx/5xx or left the server.
func (s *session) load(t *testing.T, base, page string) []string {
	t.Helper()
	s.logs(t, "browser") // drop what earlier pages left
	s.logs(t, "performance")
	if err := s.d.call(http.MethodPost, s.path("/url"), map[string]string{"url": base + "/" + page}, nil); err != nil {
		t.Fatalf("open %s: %v", page, err)
	}
	var problems []string
	ours := map[string]bool{} // the requests of this page, by id
	for _, e := range s.logs(t, "browser") {
		if e.Level == "SEVERE" || e.Level == "WARNING" {
			problems = append(problems, fmt.Sprintf("%s: console %s: %s", page, e.Level, e.Message))
		}
	}
	for _, e := range s.logs(t, "performance") {
		var ev struct {
			Message struct {
				Method string `json:"method"`
				Params struct {
					Request struct {
						URL string `json:"url"`
					} `json:"request"`
					Response struct {
						URL    string `json:"url"`
						Status int    `json:"status"`
					} `json:"response"`
					DocumentURL string `json:"documentURL"`
					ErrorText   string `json:"errorText"`
					Canceled    bool   `json:"canceled"`
					RequestID   string `json:"requestId"`
				} `json:"params"`
			} `json:"message"`
		}
		if err := json.Unmarshal([]byte(e.Message), &ev); err != nil {
			t.Fatalf("performance log entry: %v", err)
		}
		p := ev.Message.Params
		switch ev.Message.Method {
		case "Network.requestWillBeSent":
			// Chromium's own pages (chrome://…) log requests too; judge
			// only those of the page under test.
			if !strings.HasPrefix(p.DocumentURL, base+"/") {
				continue
			}
			ours[p.RequestID] = true
			if u := p.Request.URL; !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") {
				problems = append(problems, fmt.Sprintf("%s: request to %s leaves the site", page, u))
			}
		case "Network.responseReceived":
			if ours[p.RequestID] && p.Response.Status >= 400 {
				problems = append(problems, fmt.Sprintf("%s: %s answered %d", page, p.Response.URL, p.Response.Status))
			}
		case "Network.loadingFailed":
			if !ours[p.RequestID] {
				continue
			}
			problems = append(problems, fmt.Sprintf("%s: request %s failed: %s", page, p.RequestID, p.ErrorText))
		}
	}
	return problems
}

type logEntry struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

func (s *session) logs(t *testing.T, kind string) []logEntry {
	t.Helper()
	var resp struct {
		Value []logEntry `json:"value"`
	}
	if err := s.d.call(http.MethodPost, s.path("/se/log"), map[string]string{"type": kind}, &resp); err != nil {
		t.Fatalf("read the %s log: %v", kind, err)
	}
	return resp.Value
}

func (s *session) title(t *testing.T) string {
	t.Helper()
	var resp struct {
		Value string `json:"value"`
	}
	if err := s.d.call(http.MethodGet, s.path("/title"), nil, &resp); err != nil {
		t.Fatal(err)
	}
	return resp.Value
}

// count returns how many elements match a CSS selector.
func (s *session) count(t *testing.T, selector string) int {
	t.Helper()
	var resp struct {
		Value []map[string]string `json:"value"`
	}
	if err := s.d.call(http.MethodPost, s.path("/elements"), map[string]string{"using": "css selector", "value": selector}, &resp); err != nil {
		t.Fatal(err)
	}
	return len(resp.Value)
}

func (s *session) screenshot(t *testing.T) []byte {
	t.Helper()
	var resp struct {
		Value string `json:"value"`
	}
	if err := s.d.call(http.MethodGet, s.path("/screenshot"), nil, &resp); err != nil {
		t.Fatal(err)
	}
	png, err := base64.StdEncoding.DecodeString(resp.Value)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatal(errors.New("the screenshot is not a PNG"))
	}
	return png
}
