package pacts

import (
	"slices"
	"strings"
)

// Use is what one consumer's pact uses of an operation or an event.
type Use struct {
	Consumer string
	// File is the pact file.
	File string
	// Fields are the paths of the fields the consumer reads (response
	// bodies, message contents), as [Fields] returns them.
	Fields []string
}

// Reads reports whether u reads the field at p ("status",
// "nightlyRate/amount"); a path matches itself and any path ending in
// "/"+p.
func (u Use) Reads(p string) bool {
	p = strings.Trim(p, "/")
	if p == "" {
		return false
	}
	return slices.ContainsFunc(u.Fields, func(f string) bool { return f == p || strings.HasSuffix(f, "/"+p) })
}

// OperationUses returns the consumers whose pacts with provider call
// method on the path template (e.g. "/members/{memberId}"), one Use per
// consumer, sorted by consumer.
func OperationUses(files []*File, provider, method, template string) []Use {
	method = strings.ToUpper(method)
	var uses []Use
	for _, f := range files {
		if f.Provider != provider {
			continue
		}
		var fields []string
		used := false
		for _, in := range f.Interactions {
			if in.Request.Method == method && matchTemplate(template, in.Request.Path) {
				used = true
				fields = append(fields, Fields(in.Response.Body)...)
				fields = append(fields, Fields(in.Request.Body)...)
			}
		}
		if used {
			uses = merge(uses, Use{Consumer: f.Consumer, File: f.Path, Fields: fields})
		}
	}
	return uses
}

// MessageUses returns the consumers whose pacts with provider expect
// messages of the Avro type (ce_type) typ, sorted by consumer.
func MessageUses(files []*File, provider, typ string) []Use {
	var uses []Use
	for _, f := range files {
		if f.Provider != provider {
			continue
		}
		var fields []string
		used := false
		for _, m := range f.Messages {
			if m.Type() == typ {
				used = true
				fields = append(fields, Fields(m.Contents)...)
			}
		}
		if used {
			uses = merge(uses, Use{Consumer: f.Consumer, File: f.Path, Fields: fields})
		}
	}
	return uses
}

func merge(uses []Use, u Use) []Use {
	i, found := slices.BinarySearchFunc(uses, u.Consumer, func(a Use, c string) int { return strings.Compare(a.Consumer, c) })
	if found {
		uses[i].Fields = append(uses[i].Fields, u.Fields...)
	} else {
		uses = slices.Insert(uses, i, u)
	}
	slices.Sort(uses[i].Fields)
	uses[i].Fields = slices.Compact(uses[i].Fields)
	return uses
}

// matchTemplate reports whether path is an instance of the OpenAPI path
// template: same segments, a {param} segment matching any non-empty one.
func matchTemplate(template, path string) bool {
	ts := strings.Split(strings.Trim(template, "/"), "/")
	ps := strings.Split(strings.Trim(path, "/"), "/")
	if len(ts) != len(ps) {
		return false
	}
	for i, t := range ts {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if t != ps[i] {
			return false
		}
	}
	return true
}
