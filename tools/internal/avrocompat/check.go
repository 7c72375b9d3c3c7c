package avrocompat

import "fmt"

// The incompatibility types, as Confluent Schema Registry and Apache Avro's
// SchemaCompatibility name them.
const (
	// ReaderFieldMissingDefaultValue: a reader field is absent from the
	// writer and has no default.
	ReaderFieldMissingDefaultValue = "READER_FIELD_MISSING_DEFAULT_VALUE"
	// TypeMismatch: the writer's type is neither the reader's nor promotable
	// to it. Check also reports a changed decimal precision or scale this
	// way, which the registry lets through.
	TypeMismatch = "TYPE_MISMATCH"
	// NameMismatch: a record, enum or fixed was renamed and the reader has
	// no alias for the writer's name; also two writer fields that land on
	// one reader field through an alias.
	NameMismatch = "NAME_MISMATCH"
	// MissingEnumSymbols: the writer has enum symbols the reader lacks and
	// the reader enum has no default.
	MissingEnumSymbols = "MISSING_ENUM_SYMBOLS"
	// MissingUnionBranch: a writer type matches no branch of the reader
	// union.
	MissingUnionBranch = "MISSING_UNION_BRANCH"
	// FixedSizeMismatch: the two fixed types differ in size.
	FixedSizeMismatch = "FIXED_SIZE_MISMATCH"
)

// The values of [Incompatibility.Direction].
const (
	// NewReadsOld is the backward direction: the new schema reads data
	// written with an earlier version.
	NewReadsOld = "backward"
	// OldReadsNew is the forward direction: an earlier version reads data
	// written with the new schema.
	OldReadsNew = "forward"
)

// Version is one version of a schema.
type Version struct {
	// Label names the version in findings and errors, e.g. a commit,
	// "v1.2.0" or "working tree".
	Label string
	// Schema is the self-contained Avro schema JSON: every named type it
	// uses is defined in it.
	Schema string
	// File is the path the schema was read from, for errors; it may be
	// empty.
	File string
}

// Incompatibility is one reason a reader schema cannot read data written
// with a writer schema.
type Incompatibility struct {
	// Type is the Schema Registry name of the problem, one of the
	// constants above, e.g. [TypeMismatch].
	Type string
	// Path locates the problem in the reader schema as a JSON pointer in
	// the format of Confluent's messages (Apache Avro's
	// SchemaCompatibility): "/" is the root, "/fields/2/type" the type of
	// the reader's third field, then "items", "values", "symbols",
	// "size", "name", and a number for the writer's union branch.
	Path string
	// Message says for people what is wrong, who breaks, and how to fix
	// it.
	Message string
	// Reader and Writer are the labels of the versions that read and
	// wrote.
	Reader, Writer string
	// Direction is [NewReadsOld] ("backward") or [OldReadsNew]
	// ("forward").
	Direction string
}

// String formats the incompatibility on one line.
func (i Incompatibility) String() string {
	return fmt.Sprintf("%s at %s (%s, %s reads %s): %s", i.Type, i.Path, i.Direction, i.Reader, i.Writer, i.Message)
}

// SchemaError reports a version whose schema does not parse.
type SchemaError struct {
	Label string // label of the version
	File  string // file of the version, possibly empty
	Err   error  // the parser's error
}

func (e *SchemaError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("parse schema of version %q: %v", e.Label, e.Err)
	}
	return fmt.Sprintf("parse schema of version %q (%s): %v", e.Label, e.File, e.Err)
}

func (e *SchemaError) Unwrap() error { return e.Err }

// Check checks the next version of a schema against its history, oldest
// first, in the given mode, and returns every incompatibility it finds,
// nil when there are none. Findings are not errors: the error is non-nil
// only for an unknown mode (wrapping [ErrUnknownMode]) or a schema that
// does not parse (a [*SchemaError] naming the version's label and file).
//
// The non-transitive modes compare next with the last element of history
// only; the transitive ones with every element, newest first. Only the
// versions a mode compares are parsed, so a broken old version fails a
// transitive check but not a plain one; next is always parsed, even in
// mode [None]. An empty history has nothing to break.
//
// Every reader/writer pair is walked completely: all fields, symbols and
// branches, not only up to the first problem. The result lists the
// findings of each earlier version in turn (newest first), backward before
// forward, in schema order. A named type used in several places is walked
// once per pair, so its problems are reported at its first use. A finding that repeats one already made
// against a newer version (same type, path, message and direction) is
// left out, so a problem present since many versions ago is reported
// once, against the newest of them.
//
// Check is safe for concurrent use; it keeps no state between calls.
func Check(mode Mode, history []Version, next Version) ([]Incompatibility, error) {
	m, err := ParseMode(string(mode))
	if err != nil {
		return nil, fmt.Errorf("check avro compatibility: %w", err)
	}
	parsed := make(map[string]*node)
	parse := func(v Version) (*node, error) {
		if n, ok := parsed[v.Schema]; ok {
			return n, nil
		}
		n, err := parseSchema(v.Schema)
		if err != nil {
			return nil, &SchemaError{Label: v.Label, File: v.File, Err: err}
		}
		parsed[v.Schema] = n
		return n, nil
	}
	nextNode, err := parse(next)
	if err != nil {
		return nil, err
	}
	if m == None || len(history) == 0 {
		return nil, nil
	}
	against := history[len(history)-1:]
	if m.Transitive() {
		against = history
	}

	type key struct{ typ, path, msg, dir string }
	seen := make(map[key]bool)
	var out []Incompatibility
	collect := func(found []Incompatibility) {
		for _, f := range found {
			k := key{f.Type, f.Path, f.Message, f.Direction}
			if !seen[k] {
				seen[k] = true
				out = append(out, f)
			}
		}
	}
	for i := len(against) - 1; i >= 0; i-- {
		old := against[i]
		oldNode, err := parse(old)
		if err != nil {
			return nil, err
		}
		if m.backward() {
			collect(comparePair(NewReadsOld, next.Label, nextNode, old.Label, oldNode))
		}
		if m.forward() {
			collect(comparePair(OldReadsNew, old.Label, oldNode, next.Label, nextNode))
		}
	}
	return out, nil
}

// comparePair returns every incompatibility of reader r reading data
// written with w.
func comparePair(dir, readerLabel string, r *node, writerLabel string, w *node) []Incompatibility {
	wk := &walker{
		dir:     dir,
		reader:  readerLabel,
		writer:  writerLabel,
		seen:    make(map[pair]bool),
		lookups: make(map[*node]*branchLookup),
	}
	wk.compare(r, w, site{branch: -1})
	return wk.out
}
