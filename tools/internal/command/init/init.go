// Package initcmd is the "keiyaku init" command (the folder is init; init
// is no valid package name).
package initcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/modfile"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/scaffold"
)

const (
	dirFlagName     = "dir"
	serviceFlagName = "service"
	moduleFlagName  = "module"
)

type flags struct {
	Dir     string
	Service string
	Module  string
}

func (f *flags) Bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Dir, dirFlagName, ".", "the repository to initialize")
	cmd.Flags().StringVar(&f.Service, serviceFlagName, "", "a new repository: the starter service's name, a lower-case word (e.g. orders)")
	cmd.Flags().StringVar(&f.Module, moduleFlagName, "", "a new repository: its Go module path (e.g. example.com/orders); default go.mod's module line")
}

// NewCommand returns the init command.
func NewCommand(name string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Adopt Keiyaku in a new or existing repository",
		Long: `Initialize a repository for Keiyaku. It never overwrites a file: when
keiyaku.yaml exists, or a file it would write exists, it stops with exit 1 and
writes nothing.

In a repository that already holds contracts (OpenAPI or AsyncAPI documents,
Avro schemas, wherever they are), it writes keiyaku.yaml listing their folders
and touches nothing else.

Otherwise it writes a starter service: keiyaku.yaml, go.mod (when missing),
.gitignore lines (.keiyaku/, data/), contracts/<service>/v1 (OpenAPI with
problem+json errors and an Idempotency-Key, AsyncAPI 3 with a Kafka key, one
Avro schema; they pass every lint rule), a Makefile (generate, check, run;
keiyaku.mk when a Makefile exists), a GitHub workflow running the gate, and
cmd/<service>/main.go, which serves the generated API and publishes and
consumes the event on an embedded broker.`,
		Example: `  keiyaku init --service orders --module example.com/orders
  keiyaku init --dir ../legacy-api   # a repository with contracts: writes keiyaku.yaml only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	f.Bind(cmd)
	return cmd
}

func run(_ context.Context, w io.Writer, f *flags) error {
	root, err := os.OpenRoot(f.Dir)
	if err != nil {
		return fmt.Errorf("init: open --%s: %w", dirFlagName, err)
	}
	defer root.Close()
	if _, err := root.Stat(config.FileName); err == nil {
		return fmt.Errorf("init: %s already exists: the repository is initialized, and init changes nothing", filepath.Join(f.Dir, config.FileName))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("init: %w", err)
	}
	found, err := scaffold.Discover(root.FS())
	if err != nil {
		return err
	}
	if len(found) > 0 {
		if f.Service != "" {
			return fmt.Errorf("init: --%s makes a starter service, but %s already holds contracts (%s, …): drop the flag to list them in keiyaku.yaml", serviceFlagName, f.Dir, found[0].Path)
		}
		return adopt(w, root, f.Dir, found)
	}
	return create(w, root, f)
}

// adopt writes the keiyaku.yaml of a repository with contracts.
func adopt(w io.Writer, root *os.Root, dir string, found []scaffold.Found) error {
	var atRoot []string
	for _, f := range found {
		if f.Module == "." {
			atRoot = append(atRoot, f.Path)
		}
	}
	if len(atRoot) > 0 {
		// A module is a folder of its own: generate writes gen/<module>,
		// export copies the folder, lint reads the service and version
		// from its path. The repository root can be none of that.
		return fmt.Errorf("init: %s %s at the root of %s, and a keiyaku module is a folder of its own: move %s into one, e.g. mkdir -p contracts/<service>/v1 && git mv %s contracts/<service>/v1/, then run init again (nothing was written)",
			strings.Join(atRoot, ", "), isAre(len(atRoot)), dir, itThem(len(atRoot)), strings.Join(atRoot, " "))
	}
	if err := writeNew(root, config.FileName, scaffold.Config(found)); err != nil {
		return err
	}
	fmt.Fprintf(w, "found %d contract files; wrote %s listing their folders:\n", len(found), config.FileName)
	for _, f := range found {
		fmt.Fprintf(w, "  %-8s %s\n", f.Kind, f.Path)
	}
	fmt.Fprintf(w, "next: keiyaku lint, and add .keiyaku/ to .gitignore before keiyaku deps\n")
	return nil
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// create writes the starter service.
func create(w io.Writer, root *os.Root, f *flags) error {
	if f.Service == "" {
		return fmt.Errorf("init: no contracts found in %s; to start a service give --%s (e.g. --%s orders --%s example.com/orders)", f.Dir, serviceFlagName, serviceFlagName, moduleFlagName)
	}
	goMod, err := root.ReadFile("go.mod")
	haveGoMod := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("init: %w", err)
	}
	module := f.Module
	if haveGoMod {
		has := modfile.ModulePath(goMod)
		if module == "" {
			module = has
		} else if has != "" && has != module {
			return fmt.Errorf("init: --%s %s differs from go.mod's module %s", moduleFlagName, module, has)
		}
	}
	files, err := scaffold.Service{Name: f.Service, Module: module}.Files()
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if !haveGoMod {
		files = append(files, scaffold.File{Path: "go.mod", Data: fmt.Appendf(nil, "module %s\n\ngo %s\n", module, goVersion())})
	}
	// Decide every path first: nothing is written when one exists.
	var appendIgnore []byte
	var plan []scaffold.File
	var exist []string
	for _, file := range files {
		switch file.Path {
		case scaffold.GitIgnore:
			lines, err := missingLines(root, file.Path, file.Data)
			if err != nil {
				return err
			}
			appendIgnore = lines
			continue
		case scaffold.Makefile:
			if _, err := root.Stat(file.Path); err == nil {
				file.Path = "keiyaku.mk"
			}
		}
		if _, err := root.Stat(filepath.FromSlash(file.Path)); err == nil {
			exist = append(exist, file.Path)
		}
		plan = append(plan, file)
	}
	if len(exist) > 0 {
		return fmt.Errorf("init: %s already exist; init overwrites nothing: move them away or adopt the repository as it is", strings.Join(exist, ", "))
	}
	for _, file := range plan {
		if err := writeNew(root, file.Path, file.Data); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote    %s\n", file.Path)
	}
	if len(appendIgnore) > 0 {
		if err := appendFile(root, scaffold.GitIgnore, appendIgnore); err != nil {
			return err
		}
		fmt.Fprintf(w, "appended %s (%s)\n", scaffold.GitIgnore, strings.Join(strings.Fields(string(appendIgnore)), " "))
	}
	for _, file := range plan {
		if file.Path == "keiyaku.mk" {
			fmt.Fprintf(w, "your Makefile exists: add \"include keiyaku.mk\" to it\n")
		}
	}
	fmt.Fprintf(w, "next: go get -tool github.com/keiyaku/keiyaku/tools/keiyaku, make generate, go mod tidy, make run (docs/getting-started.md)\n")
	return nil
}

// missingLines returns the lines of want that the file at name lacks.
func missingLines(root *os.Root, name string, want []byte) ([]byte, error) {
	have, err := root.ReadFile(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("init: %w", err)
	}
	present := map[string]bool{}
	for l := range strings.Lines(string(have)) {
		present[strings.TrimSpace(l)] = true
	}
	var out []byte
	if len(have) > 0 && have[len(have)-1] != '\n' {
		out = append(out, '\n')
	}
	n := len(out)
	for l := range strings.Lines(string(want)) {
		if !present[strings.TrimSpace(l)] {
			out = append(out, l...)
		}
	}
	if len(out) == n {
		return nil, nil
	}
	return out, nil
}

// writeNew creates the file name below root, with its folders; it fails
// when the file exists.
func writeNew(root *os.Root, name string, data []byte) error {
	name = filepath.FromSlash(name)
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("init: %w", err)
		}
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

func appendFile(root *os.Root, name string, data []byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// goVersion is the language version of the running toolchain, e.g. 1.26.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
	}
	return "1.26"
}
