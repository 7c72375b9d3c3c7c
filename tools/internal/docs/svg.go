package docs

import (
	"cmp"
	"fmt"
	"html/template"
	"math"
	"strings"
)

// The geometry of the service map, in SVG user units.
const (
	boxW, boxH  = 180.0, 56.0
	edgeSpacing = 70.0 // between parallel edges of one pair of services
	margin      = 40.0
)

// mapView is the service map: the SVG and its size.
type mapView struct {
	SVG           template.HTML
	Width, Height int
}

type point struct{ X, Y float64 }

// layout draws the services on a circle, in name order from the top,
// clockwise, and every edge as a quadratic curve from box to box with an
// arrow head and its label at the middle. Edges between the same two
// services are spread apart so that none hides another. The output depends
// only on the services and edges: numbers are written with one decimal.
func layout(services []*service, edges []edge) mapView {
	n := len(services)
	radius := math.Max(220, float64(n)*boxW/math.Pi)
	if n <= 1 {
		radius = 0
	}
	width := 2*radius + boxW + 2*margin + 160 // room for labels beside the boxes
	height := 2*radius + boxH + 2*margin + 60 // and the legend
	center := point{width / 2, radius + boxH/2 + margin}
	pos := map[string]point{}
	page := map[string]string{}
	for i, s := range services {
		a := -math.Pi/2 + 2*math.Pi*float64(i)/float64(max(n, 1))
		pos[s.Name] = point{center.X + radius*math.Cos(a), center.Y + radius*math.Sin(a)}
		page[s.Name] = s.Page
	}

	// Number the edges of each unordered pair to spread them.
	type pair struct{ a, b string }
	pairOf := func(e edge) pair {
		if e.From < e.To {
			return pair{e.From, e.To}
		}
		return pair{e.To, e.From}
	}
	total := map[pair]int{}
	for _, e := range edges {
		total[pairOf(e)]++
	}
	index := map[pair]int{}

	var b strings.Builder
	f := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="service-map" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-labelledby="map-title map-desc" font-family="sans-serif" font-size="13">`, f(width), f(height), f(width), f(height))
	fmt.Fprintf(&b, "\n<title id=\"map-title\">Service map</title>\n<desc id=\"map-desc\">%d services, %d synchronous and %d asynchronous edges</desc>\n", n, countKind(edges, Sync), countKind(edges, Async))
	b.WriteString(`<defs>
<marker id="arrow-sync" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1f5fa8"/></marker>
<marker id="arrow-async" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#b3541e"/></marker>
</defs>
`)
	var labels strings.Builder
	for _, e := range edges {
		p, q := pos[e.From], pos[e.To]
		pr := pairOf(e)
		k := index[pr]
		index[pr]++
		offset := (float64(k) - float64(total[pr]-1)/2) * edgeSpacing
		// The normal of the pair's canonical direction, so that edges of
		// both directions share one numbering.
		ca, cb := pos[pr.a], pos[pr.b]
		dx, dy := cb.X-ca.X, cb.Y-ca.Y
		l := math.Hypot(dx, dy)
		if l == 0 {
			continue
		}
		nx, ny := -dy/l, dx/l
		mid := point{(p.X + q.X) / 2, (p.Y + q.Y) / 2}
		ctrl := point{mid.X + 2*offset*nx, mid.Y + 2*offset*ny} // the curve passes at offset
		start, end := clip(p, ctrl), clip(q, ctrl)
		stroke, dash := "#1f5fa8", ""
		if e.Kind == Async {
			stroke, dash = "#b3541e", ` stroke-dasharray="7 4"`
		}
		title := template.HTMLEscapeString(fmt.Sprintf("%s → %s (%s, %s): %s", e.From, e.To, e.Kind, e.Label, e.Detail))
		fmt.Fprintf(&b, `<g class="edge %s" data-from="%s" data-to="%s" data-kind="%s"><title>%s</title><path d="M%s,%s Q%s,%s %s,%s" fill="none" stroke="%s" stroke-width="2"%s marker-end="url(#arrow-%s)"/></g>`+"\n",
			e.Kind, template.HTMLEscapeString(e.From), template.HTMLEscapeString(e.To), e.Kind, title,
			f(start.X), f(start.Y), f(ctrl.X), f(ctrl.Y), f(end.X), f(end.Y), stroke, dash, e.Kind)
		// Labels of parallel edges sit at different points along their
		// curves, so that long topic names do not cover each other.
		t := 0.5
		if total[pr] > 1 {
			t = 0.35 + 0.3*float64(k)/float64(total[pr]-1)
		}
		at := point{
			(1-t)*(1-t)*start.X + 2*t*(1-t)*ctrl.X + t*t*end.X,
			(1-t)*(1-t)*start.Y + 2*t*(1-t)*ctrl.Y + t*t*end.Y,
		}
		w := 7.2*float64(len([]rune(e.Label))) + 12
		fmt.Fprintf(&labels, `<g class="edge-label"><rect x="%s" y="%s" width="%s" height="20" rx="4" fill="#ffffff" stroke="%s" stroke-width="1"/><text x="%s" y="%s" text-anchor="middle" fill="%s">%s</text></g>`+"\n",
			f(at.X-w/2), f(at.Y-10), f(w), stroke, f(at.X), f(at.Y+4.5), stroke, template.HTMLEscapeString(e.Label))
	}
	b.WriteString(labels.String())
	for _, s := range services {
		p := pos[s.Name]
		fmt.Fprintf(&b, `<a href="%s" class="node" data-service="%s"><rect x="%s" y="%s" width="%s" height="%s" rx="8" fill="#f4f6fa" stroke="#2b3440" stroke-width="1.5"/><text x="%s" y="%s" text-anchor="middle" font-weight="bold" font-size="15" fill="#1b2330">%s</text><text x="%s" y="%s" text-anchor="middle" fill="#4a5566">%s</text></a>`+"\n",
			template.HTMLEscapeString(s.Page), template.HTMLEscapeString(s.Name),
			f(p.X-boxW/2), f(p.Y-boxH/2), f(boxW), f(boxH),
			f(p.X), f(p.Y-4), template.HTMLEscapeString(s.Name),
			f(p.X), f(p.Y+15), template.HTMLEscapeString(s.Module))
	}
	// Legend.
	ly := height - 30
	fmt.Fprintf(&b, `<g class="legend"><path d="M%s,%s h50" stroke="#1f5fa8" stroke-width="2" marker-end="url(#arrow-sync)"/><text x="%s" y="%s" fill="#1b2330">synchronous call (keiyaku.yaml uses)</text>`,
		f(margin), f(ly), f(margin+60), f(ly+4.5))
	fmt.Fprintf(&b, `<path d="M%s,%s h50" stroke="#b3541e" stroke-width="2" stroke-dasharray="7 4" marker-end="url(#arrow-async)"/><text x="%s" y="%s" fill="#1b2330">event (AsyncAPI send → receive, labelled with the topic)</text></g>`+"\n",
		f(width/2-40), f(ly), f(width/2+20), f(ly+4.5))
	b.WriteString("</svg>")
	return mapView{SVG: template.HTML(b.String()), Width: int(width), Height: int(height)}
}

// clip returns where the line from a box's center c towards t leaves the
// box.
func clip(c, t point) point {
	dx, dy := t.X-c.X, t.Y-c.Y
	if dx == 0 && dy == 0 {
		return c
	}
	s := math.Inf(1)
	if dx != 0 {
		s = math.Min(s, (boxW/2+3)/math.Abs(dx))
	}
	if dy != 0 {
		s = math.Min(s, (boxH/2+3)/math.Abs(dy))
	}
	return point{c.X + s*dx, c.Y + s*dy}
}

func countKind(edges []edge, kind string) int {
	n := 0
	for _, e := range edges {
		if e.Kind == kind {
			n++
		}
	}
	return cmp.Or(n, 0)
}
