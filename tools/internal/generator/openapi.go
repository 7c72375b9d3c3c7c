package generator

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"

	"github.com/keiyaku/keiyaku/tools/internal/openapi"
)

// generateOpenAPI loads one OpenAPI contract, bundles the files its $refs
// reach into one document and runs oapi-codegen on it: types, a strict
// net/http server, a client with typed responses and the embedded spec.
//
// Bundling (rather than oapi-codegen's import mapping) gives each package
// its own copy of shared definitions such as Problem, so a generated
// package never imports another one and consumers can take any one alone.
//
// It returns the loaded document with the error of a document that loads
// but does not generate, so that the caller can tell the two apart.
func generateOpenAPI(ctx context.Context, loader *openapi.Loader, t Target) ([]byte, *openapi3.T, error) {
	doc, err := loader.Load(ctx, t.Source)
	if err != nil {
		return nil, nil, err
	}
	doc.InternalizeRefs(ctx, componentName)
	pkg := t.Module.GoPackage()
	// oapi-codegen keeps its state in package globals: one run at a time.
	codegenMu.Lock()
	defer codegenMu.Unlock()
	opts := t.Module.OpenAPICodegen
	code, err := codegen.Generate(doc, codegen.Configuration{
		PackageName: pkg,
		Generate: codegen.GenerateOptions{
			Models:        true,
			StdHTTPServer: true,
			Strict:        true,
			Client:        true,
			EmbeddedSpec:  true,
		},
		Compatibility: codegen.CompatibilityOptions{
			// ReservationStatusConfirmed, not Confirmed: enum constants
			// of different types never collide.
			AlwaysPrefixEnumValues: opts.AlwaysPrefixEnumValues == nil || *opts.AlwaysPrefixEnumValues,
		},
		// The module's openapi_codegen settings (keiyaku.yaml).
		OutputOptions: codegen.OutputOptions{
			ResolveTypeNameCollisions: opts.ResolveTypeNameCollisions,
			NameNormalizer:            opts.NameNormalizer,
			ExcludeSchemas:            opts.ExcludeSchemas,
			IncludeTags:               opts.IncludeTags,
			ExcludeTags:               opts.ExcludeTags,
			IncludeOperationIDs:       opts.IncludeOperationIDs,
			ExcludeOperationIDs:       opts.ExcludeOperationIDs,
			// oapi-codegen's pruning does not see what webhooks use and
			// would drop the schemas their code refers to.
			SkipPrune:                        opts.SkipPrune || len(doc.Webhooks) > 0,
			GenerateTypesForAnonymousSchemas: opts.GenerateTypesForAnonymousSchemas,
		},
		// Every file was read by our loader; nothing is fetched.
		AllowRemoteRefsFrom: []string{},
	})
	if err != nil {
		return nil, doc, fmt.Errorf("generate %s: %w", t.Source, err)
	}
	content, err := withHeader(pkg, t.Source, docTitle(doc), code)
	return content, doc, err
}

// codegenMu serialises calls of codegen.Generate, which is not safe for
// concurrent use.
var codegenMu sync.Mutex

// componentName names a component taken in from another file after the
// last element of its JSON pointer ("…/schemas/Problem" → "Problem"), as
// the $ref writes it. In a chain of $refs (an alias of an alias) that is
// the first link: where kin-openapi says the $ref led is a later one when
// the loader shortened the chain (see package openapi), or when
// kin-openapi happened to resolve the link first.
func componentName(_ *openapi3.T, ref openapi3.ComponentRef) string {
	frag := ref.RefPath().Fragment
	if u, err := url.Parse(ref.RefString()); err == nil && u.Fragment != "" {
		frag = u.Fragment
	}
	return path.Base(frag)
}

func docTitle(doc *openapi3.T) string {
	if doc.Info != nil && doc.Info.Title != "" {
		return doc.Info.Title
	}
	return "the API"
}

// withHeader replaces oapi-codegen's file header (which names its own
// version) with Keiyaku's. oapi-codegen's output is already gofmt-clean
// (it runs goimports), and the header keeps it so.
func withHeader(pkg, source, title string, code string) ([]byte, error) {
	i := strings.Index(code, "\npackage "+pkg+"\n")
	if i < 0 {
		return nil, fmt.Errorf("generate %s: no package clause in oapi-codegen output", source)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n// source: %s\n\n", Header, source)
	fmt.Fprintf(&b, "// Package %s holds the types, the strict net/http server and the client\n", pkg)
	fmt.Fprintf(&b, "// of %s, generated from %s.\n", title, source)
	b.WriteString(code[i+1:])
	return b.Bytes(), nil
}
