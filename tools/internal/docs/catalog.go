package docs

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/openapi"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// Catalog is everything the pages show, in a fixed order.
type Catalog struct {
	Services  []*service
	Edges     []edge
	Map       mapView
	Changelog changelogView
}

// service is one module with an owning service.
type service struct {
	Name        string // "member"
	Module      string // "contracts/member/v1"
	Page        string // "member-v1.html"
	Title       string // the OpenAPI info title, else the AsyncAPI one
	Version     string
	Description []string // paragraphs
	Operations  []*operation
	Events      []*eventOp
	Messages    []*message
	Uses        []useView
	UsedBy      []string
	Links       []edge   // the map's edges from or to this service
	Sends       []string // names of the messages it sends
	Receives    []string // and receives
}

type useView struct {
	Service, Page, Module string
	Policy                string
}

// edge is one arrow of the service map.
type edge struct {
	From, To string // service names
	Kind     string // "sync" or "async"
	Label    string // "REST" or the Kafka topic
	Detail   string // the call policy, or the messages
}

// The kinds of edges.
const (
	Sync  = "sync"
	Async = "async"
)

// load reads the modules of cfg and builds the catalog model.
func load(ctx context.Context, cfg *config.Config, fsys fs.FS, log *slog.Logger) (*Catalog, error) {
	cat := &Catalog{}
	byModule := map[string]*service{}
	docs := map[string]*asyncapi.Document{}
	loader := openapi.NewLoaderFS(fsys)
	for _, m := range cfg.Modules {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if m.Service == "" {
			continue
		}
		svc := &service{
			Name:   m.Service,
			Module: m.Path,
			Page:   strings.ReplaceAll(m.Name(), "/", "-") + ".html",
		}
		files, err := openapi.DocumentsFS(fsys, m.Path, m.OpenAPIDocFS(fsys))
		if err != nil {
			return nil, fmt.Errorf("catalog of %s: %w", m.Path, err)
		}
		for _, file := range files {
			doc, err := loader.Load(ctx, file)
			if err != nil {
				return nil, fmt.Errorf("catalog of %s: %w", m.Path, err)
			}
			if doc.Info != nil && svc.Title == "" {
				svc.Title, svc.Version, svc.Description = doc.Info.Title, doc.Info.Version, paragraphs(doc.Info.Description)
			}
			svc.Operations = append(svc.Operations, operations(file, doc)...)
		}
		if file := m.AsyncAPIDocFS(fsys); file != "" {
			doc, err := asyncapi.LoadFS(ctx, fsys, file)
			if err != nil {
				return nil, fmt.Errorf("catalog of %s: %w", m.Path, err)
			}
			docs[m.Path] = doc
			if svc.Title == "" {
				svc.Title, svc.Version, svc.Description = doc.Info.Title, doc.Info.Version, paragraphs(doc.Info.Description)
			}
			svc.Events, svc.Messages = events(doc)
		}
		if svc.Title == "" {
			svc.Title = svc.Name
		}
		log.DebugContext(ctx, "loaded module", "module", m.Path, "operations", len(svc.Operations), "events", len(svc.Events))
		byModule[m.Path] = svc
		cat.Services = append(cat.Services, svc)
	}
	slices.SortFunc(cat.Services, func(a, b *service) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Module, b.Module)) })

	// Synchronous edges: the uses of keiyaku.yaml.
	for _, m := range cfg.Modules {
		from := byModule[m.Path]
		if from == nil {
			continue
		}
		for _, u := range m.Uses {
			to := byModule[u.Module]
			if to == nil {
				continue // a module of shared definitions: no service to draw
			}
			from.Uses = append(from.Uses, useView{Service: to.Name, Page: to.Page, Module: to.Module, Policy: policy(u)})
			to.UsedBy = append(to.UsedBy, from.Name)
			cat.Edges = append(cat.Edges, edge{From: from.Name, To: to.Name, Kind: Sync, Label: "REST", Detail: policy(u)})
		}
	}
	// Asynchronous edges: a send and a receive on the same topic.
	for _, from := range cat.Services {
		for _, to := range cat.Services {
			if from == to || docs[from.Module] == nil || docs[to.Module] == nil {
				continue
			}
			for _, topic := range topics(docs[from.Module], asyncapi.Send) {
				sent := messagesOn(docs[from.Module], asyncapi.Send, topic)
				var both []string
				for _, name := range messagesOn(docs[to.Module], asyncapi.Receive, topic) {
					if slices.Contains(sent, name) {
						both = append(both, name)
					}
				}
				if len(both) > 0 {
					cat.Edges = append(cat.Edges, edge{From: from.Name, To: to.Name, Kind: Async, Label: topic, Detail: strings.Join(both, ", ")})
				}
			}
		}
	}
	slices.SortFunc(cat.Edges, func(a, b edge) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Label, b.Label))
	})
	cat.Edges = slices.Compact(cat.Edges)
	for _, svc := range cat.Services {
		slices.Sort(svc.UsedBy)
		for _, e := range cat.Edges {
			if e.From == svc.Name || e.To == svc.Name {
				svc.Links = append(svc.Links, e)
			}
		}
		for _, op := range svc.Events {
			for _, m := range op.Messages {
				if op.Action == asyncapi.Send {
					svc.Sends = append(svc.Sends, m.Name)
				} else {
					svc.Receives = append(svc.Receives, m.Name)
				}
			}
			for _, e := range cat.Edges {
				if e.Kind != Async || e.Label != op.Topic {
					continue
				}
				switch {
				case op.Action == asyncapi.Send && e.From == svc.Name:
					op.Peers = append(op.Peers, e.To)
				case op.Action == asyncapi.Receive && e.To == svc.Name:
					op.Peers = append(op.Peers, e.From)
				}
			}
		}
	}
	for _, svc := range cat.Services {
		slices.Sort(svc.Sends)
		svc.Sends = slices.Compact(svc.Sends)
		slices.Sort(svc.Receives)
		svc.Receives = slices.Compact(svc.Receives)
	}
	cat.Map = layout(cat.Services, cat.Edges)
	return cat, nil
}

// policy describes the call policy of a dependency in a few words; zero
// values are resilience's defaults.
func policy(u config.Use) string {
	var parts []string
	if u.Timeout > 0 {
		parts = append(parts, "timeout "+time.Duration(u.Timeout).String())
	}
	if u.AttemptTimeout > 0 {
		parts = append(parts, "attempt "+time.Duration(u.AttemptTimeout).String())
	}
	if u.MaxAttempts > 0 {
		parts = append(parts, fmt.Sprintf("%d attempts", u.MaxAttempts))
	}
	if u.Fallback != "" && u.Fallback != config.FallbackNone {
		f := "fallback " + u.Fallback
		if u.FallbackTTL > 0 {
			f += " (" + time.Duration(u.FallbackTTL).String() + ")"
		}
		parts = append(parts, f)
	}
	if u.Breaker.ConsecutiveFailures > 0 {
		parts = append(parts, fmt.Sprintf("breaker after %d failures", u.Breaker.ConsecutiveFailures))
	}
	if len(parts) == 0 {
		return "default policy"
	}
	return strings.Join(parts, ", ")
}

// topicOf names the topic of a channel: its address, else its name.
func topicOf(c *asyncapi.Channel) string { return cmp.Or(c.Address, c.Name) }

// topics lists the topics a document's operations of one action use, sorted.
func topics(doc *asyncapi.Document, action asyncapi.Action) []string {
	var out []string
	for _, op := range doc.Operations {
		if op.Action == action && op.Channel != nil {
			out = append(out, topicOf(op.Channel))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// messagesOn lists the names of the messages a document's operations of
// one action send or receive on a topic, sorted.
func messagesOn(doc *asyncapi.Document, action asyncapi.Action, topic string) []string {
	var out []string
	for _, op := range doc.Operations {
		if op.Action != action || op.Channel == nil || topicOf(op.Channel) != topic {
			continue
		}
		for _, m := range op.Messages {
			out = append(out, m.Name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// paragraphs splits a description into paragraphs at blank lines.
func paragraphs(s string) []string {
	var out []string
	for p := range strings.SplitSeq(strings.ReplaceAll(s, "\r\n", "\n"), "\n\n") {
		if p = strings.Join(strings.Fields(p), " "); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// changelogView is the changelog page's data.
type changelogView struct {
	Built    bool
	From, To string
	Groups   []findingGroup
	Count    int
}

type findingGroup struct {
	Format   string
	Findings []report.Finding
}

func newChangelogView(c *Changelog) changelogView {
	if c == nil {
		return changelogView{}
	}
	v := changelogView{Built: true, From: c.From, To: c.To, Count: len(c.Findings)}
	byFormat := map[string][]report.Finding{}
	for _, f := range c.Findings {
		byFormat[f.Format] = append(byFormat[f.Format], f)
	}
	for _, format := range slices.Sorted(func(yield func(string) bool) {
		for k := range byFormat {
			if !yield(k) {
				return
			}
		}
	}) {
		v.Groups = append(v.Groups, findingGroup{Format: format, Findings: byFormat[format]})
	}
	return v
}
