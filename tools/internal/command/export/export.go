// Package export is the "keiyaku export" command.
package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	"github.com/keiyaku/keiyaku/tools/internal/export"
)

const (
	outFlagName    = "out"
	moduleFlagName = "module"
)

type flags struct {
	Out     string
	Modules []string
}

func (f *flags) Bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.Out, outFlagName, "o", "", "folder to write the contracts and "+export.ManifestFile+" to; must not exist or be empty (required)")
	cmd.Flags().StringArrayVar(&f.Modules, moduleFlagName, nil, "export only this module (e.g. contracts/member/v1); may be repeated; default every module of keiyaku.yaml at INPUT")
}

// NewCommand returns the export command. configFile points at the
// --config value of the root command; its folder is the default INPUT.
func NewCommand(name string, configFile *string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " [INPUT] -o DIR",
		Short: "Write the contracts of a version, with a manifest of their digests, for consumer teams",
		Long: `Write the contract modules of the workspace at INPUT into DIR, each file at
its workspace path, with keiyaku-manifest.json: the source and its commit, the
modules, every file's SHA-256 and a digest of them all. A module's files are
those below its folder plus every file its contracts reach by $ref (shared
definitions, the schemas of events it receives), so each exported module
loads and generates on its own; a consumer can use DIR as a deps source.

INPUT is read as by "keiyaku breaking --against": a git reference such as
.git#tag=v1.2.0 (read from git objects; nothing is checked out) or a
directory; default the workspace (the folder of --config). The modules are
those of the keiyaku.yaml at INPUT.

Exit codes: 0 ok, 1 usage or load error.`,
		Example: `  keiyaku export .git#tag=v1.2.0 -o dist/contracts
  keiyaku export -o /tmp/member --module contracts/member/v1`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), *configFile, f, args)
		},
	}
	f.Bind(cmd)
	return cmd
}

func run(ctx context.Context, w io.Writer, configFile string, f *flags, args []string) error {
	if f.Out == "" {
		return errors.New("--out (-o) is required: the folder to write the contracts to")
	}
	in := baseline.Input{Path: "."}
	opts := []baseline.Option{baseline.WithDir(filepath.Dir(configFile))}
	if len(args) == 1 {
		var err error
		if in, err = baseline.Parse(args[0]); err != nil {
			return err
		}
		opts = nil
	}
	b, err := baseline.Open(ctx, in, opts...)
	if err != nil {
		return err
	}
	defer b.Close()
	var eopts []export.Option
	for _, m := range f.Modules {
		eopts = append(eopts, export.WithModule(m))
	}
	man, err := export.Write(ctx, b, f.Out, eopts...)
	if err != nil {
		return err
	}
	for _, file := range man.Files {
		fmt.Fprintf(w, "%s  %s\n", file.SHA256, file.Path)
	}
	fmt.Fprintf(w, "exported %d files of %d modules from %s to %s (%s)\n", len(man.Files), len(man.Modules), man.Source, f.Out, man.Digest)
	return nil
}
