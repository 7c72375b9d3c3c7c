package breaking

import (
	"context"
	"io/fs"
	"maps"
	"path"
	"slices"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/avroschema"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/subjects"
)

// subject is one Schema Registry subject in one version of the workspace:
// the schema registered under it, and who uses it.
type subject struct {
	// name is the subject: "<topic>-value", "<topic>-key", a record's
	// full name, or "<topic>-<record full name>".
	name string
	// record is the top-level record registered under the subject; its
	// Schema holds every named type it uses, judged with it.
	record *avroschema.Record
	// strategy is the subject name strategy that named it; empty for a
	// standalone schema.
	strategy string
	// topic and message say which message of which topic carries it;
	// empty for a standalone schema (an .avsc no message uses).
	topic, message string
	// owned reports that a module sends on the topic (its own contract
	// defines the message, not a reference to another module's).
	owned bool
	// read reports that a receive operation of some module reads the
	// topic.
	read bool
	// clash names another record registered under the same subject in
	// the same version (TopicNameStrategy with several message types on
	// one topic), empty when there is none.
	clash string
}

// snapshot is the subjects of a whole workspace at one version, and the
// modules that did not load there.
type snapshot struct {
	subjects map[string]*subject
	failed   map[string]error // module path → why it did not load
}

// firstFailure returns the error of the first module (by path) that did
// not load, nil when all did.
func (snap snapshot) firstFailure() error {
	if len(snap.failed) == 0 {
		return nil
	}
	return snap.failed[slices.Min(slices.Collect(maps.Keys(snap.failed)))]
}

// subjectsAt loads the subjects of every module of cfg from fsys. A module
// whose AsyncAPI document or Avro folder does not load is recorded in
// failed, not returned as an error: an old version of the history may
// have been broken.
//
// A message's payload (and its key, when the key is an Avro record) on a
// channel is a subject named by the channel's strategy. Unless a strategy
// is configured, a channel that carries one record type uses
// TopicNameStrategy, and one that carries several uses
// TopicRecordNameStrategy, the only strategy Schema Registry accepts
// several record types on one topic with. A record defined at the top of
// an .avsc file that no message uses, directly or nested, is a subject by
// its full name.
func subjectsAt(ctx context.Context, cfg *config.Config, fsys fs.FS) snapshot {
	snap := snapshot{subjects: map[string]*subject{}, failed: map[string]error{}}
	used := map[string]bool{} // named types some message uses
	var standalone []*subject
	for _, m := range cfg.Modules {
		var set *avroschema.Set
		dir := path.Join(m.Path, avroDir)
		if _, err := fs.Stat(fsys, dir); err == nil {
			if set, err = avroschema.LoadFS(ctx, fsys, dir); err != nil {
				snap.failed[m.Path] = err
				continue
			}
		}
		if file := m.AsyncAPIDocFS(fsys); file != "" {
			doc, err := asyncapi.LoadFS(ctx, fsys, file)
			if err != nil {
				snap.failed[m.Path] = err
				continue
			}
			for _, s := range docSubjects(cfg, m, doc) {
				markUsed(s.record.Type, used)
				snap.add(s)
			}
		}
		if set != nil {
			for _, f := range set.Files {
				if r := set.FileRecord(f); r != nil {
					standalone = append(standalone, &subject{name: r.Name, record: r})
				}
			}
		}
	}
	for _, s := range standalone {
		if !used[s.record.Name] {
			snap.add(s)
		}
	}
	return snap
}

// add records s, merging it with a subject of the same name: the version
// a sending module defines wins, and a second record under one subject is
// a clash.
func (snap snapshot) add(s *subject) {
	prev, ok := snap.subjects[s.name]
	if !ok {
		snap.subjects[s.name] = s
		return
	}
	prev.read = prev.read || s.read
	switch {
	case prev.record.Name != s.record.Name && prev.clash == "":
		prev.clash = s.record.Name
	case s.owned && !prev.owned:
		s.read = prev.read
		s.clash = prev.clash
		snap.subjects[s.name] = s
	}
}

// docSubjects returns the subjects of the messages of doc's channels,
// named by package subjects, as the generated event types name them.
func docSubjects(cfg *config.Config, m config.Module, doc *asyncapi.Document) []*subject {
	var out []*subject
	for _, ch := range doc.Channels {
		sends, reads := false, false
		for _, op := range doc.Operations {
			if op.Channel == nil || op.Channel.Address != ch.Address {
				continue
			}
			sends = sends || op.Action == asyncapi.Send
			reads = reads || op.Action == asyncapi.Receive
		}
		for _, msg := range ch.Messages {
			names := subjects.Of(cfg.Breaking.Avro, m.Path, ch, msg)
			for _, part := range []struct {
				schema *asyncapi.Schema
				name   string
				suffix string
			}{{msg.Payload, names.Value, subjects.Value}, {msg.Key, names.Key, subjects.Key}} {
				if part.name == "" {
					continue
				}
				out = append(out, &subject{
					name: part.name, record: part.schema.Avro, strategy: names.Strategy,
					topic: ch.Address, message: ch.Name + "/" + msg.Name + "/" + part.suffix, owned: sends, read: reads,
				})
			}
		}
	}
	return out
}

// markUsed adds the full names of t and every named type inside it to
// used.
func markUsed(t *avroschema.Type, used map[string]bool) {
	if t == nil {
		return
	}
	if t.Name != "" {
		if used[t.Name] {
			return
		}
		used[t.Name] = true
	}
	markUsed(t.Items, used)
	markUsed(t.Values, used)
	for _, b := range t.Branches {
		markUsed(b, used)
	}
	if t.Record != nil {
		for _, f := range t.Record.Fields {
			markUsed(f.Type, used)
		}
	}
}
