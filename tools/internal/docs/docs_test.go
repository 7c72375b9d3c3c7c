package docs

import (
	"bytes"
	"maps"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/openapi"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// repoConfig loads the repository's own keiyaku.yaml.
func repoConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("../../../keiyaku.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func buildRepo(t *testing.T, opts ...Option) (*config.Config, *Site) {
	t.Helper()
	cfg := repoConfig(t)
	site, err := Build(t.Context(), cfg, os.DirFS(cfg.Root), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, site
}

// parse parses a page of the site as HTML.
func parse(t *testing.T, site *Site, name string) *html.Node {
	t.Helper()
	data := site.File(name)
	if data == nil {
		t.Fatalf("the site has no %s; it has %v", name, site.Files())
	}
	doc, err := html.Parse(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return doc
}

// elements returns the element nodes below n for which keep is true, in
// document order.
func elements(n *html.Node, keep func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && keep(d) {
			out = append(out, d)
		}
	}
	return out
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasAttr(key string) func(*html.Node) bool {
	return func(n *html.Node) bool { _, ok := attr(n, key); return ok }
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// TestCatalogCoversContracts pins the catalog's completeness on the
// repository's own contracts: every OpenAPI operation (method, path,
// operationId) is on its service's page, every AsyncAPI operation and
// message is there with an Avro table holding every field, and the service
// map draws every edge — each "uses" of keiyaku.yaml and each send →
// receive pair on one topic — both in the SVG and in the edge table. The
// expectations are read from the contracts with the loaders, not from the
// catalog's model.
func TestCatalogCoversContracts(t *testing.T) {
	t.Parallel()
	cfg, site := buildRepo(t)
	ctx := t.Context()
	loader, err := openapi.NewLoader(cfg.Root)
	if err != nil {
		t.Fatal(err)
	}
	defer loader.Close()

	type edgeKey struct{ from, to, kind string }
	wantEdges := map[edgeKey]bool{}
	sends := map[string][][2]string{}    // service → (topic, message)
	receives := map[string][][2]string{} // service → (topic, message)
	serviceOf := map[string]string{}
	for _, m := range cfg.Modules {
		serviceOf[m.Path] = m.Service
	}
	ops, events, messages := 0, 0, 0
	for _, m := range cfg.Modules {
		if m.Service == "" {
			continue
		}
		page := strings.ReplaceAll(m.Name(), "/", "-") + ".html"
		doc := parse(t, site, page)
		t.Run(m.Service, func(t *testing.T) {
			// REST operations.
			files, err := openapi.DocumentsFS(os.DirFS(cfg.Root), m.Path)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, n := range elements(doc, hasAttr("data-operation-id")) {
				id, _ := attr(n, "data-operation-id")
				method, _ := attr(n, "data-method")
				p, _ := attr(n, "data-path")
				got[method+" "+p+" "+id] = true
			}
			for _, file := range files {
				spec, err := loader.Load(ctx, file)
				if err != nil {
					t.Fatal(err)
				}
				for p, item := range spec.Paths.Map() {
					for method, op := range item.Operations() {
						ops++
						if key := method + " " + p + " " + op.OperationID; !got[key] {
							t.Errorf("%s lacks operation %s; it has %v", page, key, slices.Sorted(maps.Keys(got)))
						}
					}
				}
			}
			// Events and messages.
			file := path.Join(m.Path, "asyncapi.yaml")
			if _, err := os.Stat(filepath.Join(cfg.Root, file)); err != nil {
				return
			}
			adoc, err := asyncapi.Load(ctx, cfg.Root, file)
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range adoc.Operations {
				events++
				found := elements(doc, func(n *html.Node) bool { id, _ := attr(n, "id"); return id == "ev-"+op.Name })
				if len(found) != 1 {
					t.Errorf("%s: operation %s appears %d times, want once", page, op.Name, len(found))
					continue
				}
				if a, _ := attr(found[0], "data-action"); a != string(op.Action) {
					t.Errorf("%s: operation %s has action %q, want %q", page, op.Name, a, op.Action)
				}
				if topic, _ := attr(found[0], "data-topic"); topic != op.Channel.Address {
					t.Errorf("%s: operation %s on topic %q, want %q", page, op.Name, topic, op.Channel.Address)
				}
				for _, msg := range op.Messages {
					pair := [2]string{op.Channel.Address, msg.Name}
					if op.Action == asyncapi.Send {
						sends[m.Service] = append(sends[m.Service], pair)
					} else {
						receives[m.Service] = append(receives[m.Service], pair)
					}
					if !strings.Contains(text(found[0]), msg.Name) {
						t.Errorf("%s: operation %s does not name its message %s", page, op.Name, msg.Name)
					}
					articles := elements(doc, func(n *html.Node) bool { v, _ := attr(n, "data-message"); return v == msg.Name })
					if len(articles) != 1 {
						t.Errorf("%s: message %s appears %d times, want once", page, msg.Name, len(articles))
						continue
					}
					messages++
					rec := msg.Payload.Avro
					if rec == nil {
						continue
					}
					tables := elements(articles[0], func(n *html.Node) bool { v, _ := attr(n, "data-avro"); return v == rec.Name })
					if len(tables) != 1 {
						t.Errorf("%s: message %s has %d tables of %s, want 1", page, msg.Name, len(tables), rec.Name)
						continue
					}
					cells := map[string]bool{}
					for _, td := range elements(tables[0], func(n *html.Node) bool { return n.Data == "td" }) {
						cells[strings.TrimSpace(text(td))] = true
					}
					for _, f := range rec.Fields {
						if !cells[f.Name] {
							t.Errorf("%s: the table of %s lacks field %s", page, rec.Name, f.Name)
						}
						if f.Type.Logical != "" && !slices.ContainsFunc(slices.Collect(maps.Keys(cells)), func(c string) bool { return strings.Contains(c, "("+f.Type.Logical) }) {
							t.Errorf("%s: the table of %s does not show logical type %s", page, rec.Name, f.Type.Logical)
						}
					}
				}
			}
		})
		for _, u := range m.Uses {
			if to := serviceOf[u.Module]; to != "" {
				wantEdges[edgeKey{m.Service, to, Sync}] = true
			}
		}
	}
	for from, ss := range sends {
		for to, rs := range receives {
			if from == to {
				continue
			}
			for _, s := range ss {
				if slices.Contains(rs, s) {
					wantEdges[edgeKey{from, to, Async}] = true
				}
			}
		}
	}
	if ops == 0 || events == 0 || messages == 0 || len(wantEdges) == 0 {
		t.Fatalf("the repository's contracts gave %d operations, %d events, %d messages, %d edges: the test checks nothing", ops, events, messages, len(wantEdges))
	}

	mapDoc := parse(t, site, MapPage)
	svgs := elements(mapDoc, func(n *html.Node) bool { return n.Data == "svg" })
	if len(svgs) != 1 {
		t.Fatalf("map.html has %d svg elements, want 1", len(svgs))
	}
	for name, sel := range map[string]func(*html.Node) bool{
		"svg edges":  func(n *html.Node) bool { return n.Data == "g" && hasAttr("data-kind")(n) },
		"edge table": func(n *html.Node) bool { return n.Data == "tr" && hasAttr("data-kind")(n) },
	} {
		root := mapDoc
		if name == "svg edges" {
			root = svgs[0]
		}
		got := map[edgeKey]bool{}
		for _, n := range elements(root, sel) {
			from, _ := attr(n, "data-from")
			to, _ := attr(n, "data-to")
			kind, _ := attr(n, "data-kind")
			got[edgeKey{from, to, kind}] = true
		}
		if !maps.Equal(got, wantEdges) {
			t.Errorf("%s = %v, want %v", name, got, wantEdges)
		}
	}
	var drawn, want []string
	for _, n := range elements(svgs[0], hasAttr("data-service")) {
		v, _ := attr(n, "data-service")
		drawn = append(drawn, v)
	}
	for _, m := range cfg.Modules {
		if m.Service != "" {
			want = append(want, m.Service)
		}
	}
	slices.Sort(drawn)
	slices.Sort(want)
	if !slices.Equal(drawn, want) {
		t.Errorf("the map draws services %v, want %v", drawn, want)
	}
}

// TestDeterministic pins that the same contracts give the same bytes:
// two builds are equal file by file, so the site can be committed and
// diffed.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	changelog := WithChangelog(Changelog{From: "a", To: "b", Findings: []report.Finding{
		{Rule: "r2", Severity: report.Warning, Format: report.FormatAvro, File: "x.avsc", Message: "m"},
		{Rule: "r1", Severity: report.Error, Format: report.FormatOpenAPI, File: "y.yaml", Line: 3, Message: "n", Operations: []string{"GET /a", "GET /b"}},
	}})
	_, a := buildRepo(t, changelog)
	_, b := buildRepo(t, changelog)
	if !slices.Equal(a.Files(), b.Files()) {
		t.Fatalf("files differ: %v and %v", a.Files(), b.Files())
	}
	for _, name := range a.Files() {
		if !bytes.Equal(a.File(name), b.File(name)) {
			t.Errorf("%s differs between two builds", name)
		}
	}
}

// externalRefs lists the references of an HTML page that leave the site
// or name a file it lacks: every href, src, srcset, action, xlink:href,
// poster and data attribute, and every url() in an attribute, must be a
// relative path to a file of the site or a fragment.
func externalRefs(page []byte, has func(string) bool) ([]string, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return nil, err
	}
	var bad []string
	check := func(ref string) {
		u, err := url.Parse(strings.TrimSpace(ref))
		switch {
		case err != nil:
			bad = append(bad, ref+" (does not parse)")
		case u.Scheme != "" || u.Host != "" || strings.HasPrefix(ref, "//"):
			bad = append(bad, ref+" (leaves the site)")
		case u.Path != "" && !has(u.Path):
			bad = append(bad, ref+" (no such file in the site)")
		}
	}
	for d := range doc.Descendants() {
		if d.Type != html.ElementNode {
			continue
		}
		for _, a := range d.Attr {
			switch a.Key {
			case "href", "src", "action", "poster", "data", "formaction", "cite", "background":
				check(a.Val)
			case "srcset":
				for part := range strings.SplitSeq(a.Val, ",") {
					if f := strings.Fields(part); len(f) > 0 {
						check(f[0])
					}
				}
			case "style":
				bad = append(bad, "style attribute on <"+d.Data+"> (the CSP forbids inline styles)")
			}
			if a.Namespace == "xlink" && a.Key == "href" {
				check(a.Val)
			}
			if i := strings.Index(a.Val, "url("); i >= 0 && !strings.HasPrefix(a.Val[i:], "url(#") {
				bad = append(bad, a.Key+"="+a.Val+" (url() to a resource)")
			}
		}
		if d.Data == "script" || d.Data == "iframe" || d.Data == "object" || d.Data == "embed" {
			bad = append(bad, "<"+d.Data+"> element")
		}
		if d.Data == "style" {
			bad = append(bad, "<style> element (the CSP allows only style.css)")
		}
	}
	return bad, nil
}

// TestNoExternalURL pins that the site loads nothing from elsewhere and has
// no broken link: every reference of every page is a file of the site or a
// fragment, the style sheet imports nothing, and every page carries the
// CSP that enforces it in a browser. The checker itself is run on bad
// pages, so that it can fail.
func TestNoExternalURL(t *testing.T) {
	t.Parallel()
	_, site := buildRepo(t, WithChangelog(Changelog{From: "a", To: "b"}))
	has := func(name string) bool { return site.File(name) != nil }
	pages := 0
	for _, name := range site.Files() {
		if !strings.HasSuffix(name, ".html") {
			continue
		}
		pages++
		bad, err := externalRefs(site.File(name), has)
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("%s: %v", name, bad)
		}
		doc := parse(t, site, name)
		csp := elements(doc, func(n *html.Node) bool {
			v, _ := attr(n, "http-equiv")
			return n.Data == "meta" && strings.EqualFold(v, "Content-Security-Policy")
		})
		if len(csp) != 1 {
			t.Errorf("%s has %d CSP meta elements, want 1", name, len(csp))
		} else if v, _ := attr(csp[0], "content"); !strings.Contains(v, "default-src 'none'") {
			t.Errorf("%s: CSP %q does not default to none", name, v)
		}
	}
	if pages < 4 {
		t.Fatalf("the site has %d pages", pages)
	}
	for _, name := range site.Files() {
		if strings.HasSuffix(name, ".css") || strings.HasSuffix(name, ".svg") {
			s := string(site.File(name))
			if strings.Contains(s, "url(") || strings.Contains(s, "@import") || strings.Contains(s, "href=") {
				t.Errorf("%s refers to another resource", name)
			}
		}
	}

	for _, tt := range []struct {
		name, page, want string
	}{
		{"absolute URL", `<a href="https://example.com/x">x</a>`, "leaves the site"},
		{"protocol-relative", `<img src="//cdn.example/x.png">`, "leaves the site"},
		{"missing file", `<link rel="stylesheet" href="nope.css">`, "no such file"},
		{"script", `<script>alert(1)</script>`, "<script>"},
		{"svg url", `<svg><rect fill="url(https://x/y)"/></svg>`, "url() to a resource"},
		{"inline style", `<p style="color:red">x</p>`, "style attribute"},
	} {
		bad, err := externalRefs([]byte(tt.page), has)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(bad, "\n"), tt.want) {
			t.Errorf("%s: checker reported %v, want %q", tt.name, bad, tt.want)
		}
	}
}
