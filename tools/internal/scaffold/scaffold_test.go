package scaffold_test

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/keiyaku/keiyaku/tools/internal/scaffold"
)

// TestDiscover pins what counts as a contract: a top-level openapi or
// asyncapi key (YAML or JSON), an .avsc file (its module is the folder
// above avro/), and nothing in skipped folders or nested keys.
func TestDiscover(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"spec.json":                   {Data: []byte(`{"openapi": "3.1.0", "info": {}}`)},
		"svc/v1/asyncapi.yml":         {Data: []byte("# events\nasyncapi: 3.0.0\n")},
		"svc/v1/avro/A.avsc":          {Data: []byte(`{}`)},
		"schemas/B.avsc":              {Data: []byte(`{}`)},
		"config.yaml":                 {Data: []byte("server:\n  openapi: nested\n")},
		"vendor/x/openapi.yaml":       {Data: []byte("openapi: 3.0.3\n")},
		".keiyaku/deps/o/openapi.yml": {Data: []byte("openapi: 3.0.3\n")},
	}
	found, err := scaffold.Discover(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, f.Path+" "+string(f.Kind)+" "+f.Module)
	}
	want := []string{"schemas/B.avsc Avro schemas", "spec.json OpenAPI .", "svc/v1/asyncapi.yml AsyncAPI svc/v1", "svc/v1/avro/A.avsc Avro svc/v1"}
	if !slices.Equal(got, want) {
		t.Errorf("Discover = %q, want %q", got, want)
	}
	cfg := string(scaffold.Config(found))
	for _, s := range []string{"  - path: .\n    # spec.json (OpenAPI)\n    openapi: spec.json\n", "  - path: schemas\n    # B.avsc (Avro; read only through a payload $ref: standalone schemas belong in avro/)\n"} {
		if !strings.Contains(cfg, s) {
			t.Errorf("Config lacks %q:\n%s", s, cfg)
		}
	}
}

// TestServiceValidate pins the errors for a bad service name or module path.
func TestServiceValidate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		s    scaffold.Service
		want string
	}{
		{scaffold.Service{Name: "orders", Module: "example.com/orders"}, ""},
		{scaffold.Service{Name: "Orders", Module: "example.com/orders"}, `service name "Orders"`},
		{scaffold.Service{Name: "9s", Module: "example.com/x"}, `service name "9s"`},
		{scaffold.Service{Name: "orders"}, "go module path: give one"},
		{scaffold.Service{Name: "orders", Module: "Example.com/ x"}, `go module path "Example.com/ x"`},
	} {
		err := c.s.Validate()
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", c.s, err, c.want)
		}
	}
}
