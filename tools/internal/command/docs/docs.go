// Package docs is the "keiyaku docs" command.
package docs

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	gate "github.com/keiyaku/keiyaku/tools/internal/breaking"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	catalog "github.com/keiyaku/keiyaku/tools/internal/docs"
)

const (
	outFlagName           = "out"
	changelogFromFlagName = "changelog-from"
	changelogToFlagName   = "changelog-to"
	noChangelogFlagName   = "no-changelog"
)

// workspaceLabel names the current workspace in the changelog.
const workspaceLabel = "workspace"

type flags struct {
	Out           string
	ChangelogFrom string
	ChangelogTo   string
	NoChangelog   bool
}

func (f *flags) Bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.Out, outFlagName, "o", "site", "folder to write the catalog into; it must be empty, new, or hold an earlier catalog")
	cmd.Flags().StringVar(&f.ChangelogFrom, changelogFromFlagName, "", "the older version for the changelog: .git#tag=v1.0.0, .git#branch=main, .git#ref=<sha>, a directory; default breaking.against of keiyaku.yaml (.git#branch=main)")
	cmd.Flags().StringVar(&f.ChangelogTo, changelogToFlagName, "", "the newer version for the changelog, in the same syntax; default the workspace as it is")
	cmd.Flags().BoolVar(&f.NoChangelog, noChangelogFlagName, false, "build no changelog (e.g. where there is no git history)")
}

// NewCommand returns the docs command. configFile points at the --config
// value of the root command.
func NewCommand(name string, configFile *string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Build the contract catalog: a static site of the services, their APIs and events, a service map and a changelog",
		Long: `Build a static HTML site from the contracts of keiyaku.yaml: an index page,
one page per service (its REST operations with parameters, schemas as tables
and examples; the events it sends and receives with their Avro schemas as
tables), a service map drawn as SVG (synchronous calls from "uses", events
from AsyncAPI send to receive on the same topic) and a changelog of the
breaking-change gate's findings between two versions of the contracts.

The site needs no server and loads nothing from the network: open
index.html, or publish the folder. The same contracts give the same bytes.

Exit codes: 0 written, 1 usage or load error (a contract that does not load,
a missing git ref, a non-empty output folder that holds no earlier catalog).`,
		Example: `  keiyaku docs -o site/
  keiyaku docs -o site/ --changelog-from .git#tag=v1.0.0
  keiyaku docs -o site/ --changelog-from .git#tag=v1.0.0 --changelog-to .git#tag=v1.1.0
  keiyaku docs -o site/ --no-changelog`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			return run(cmd.Context(), cmd.OutOrStdout(), log, *configFile, f)
		},
	}
	f.Bind(cmd)
	return cmd
}

func run(ctx context.Context, w io.Writer, log *slog.Logger, configFile string, f *flags) error {
	if f.Out == "" {
		return fmt.Errorf("--%s: give a folder", outFlagName)
	}
	if f.NoChangelog && (f.ChangelogFrom != "" || f.ChangelogTo != "") {
		return fmt.Errorf("--%s and --%s/--%s exclude each other", noChangelogFlagName, changelogFromFlagName, changelogToFlagName)
	}
	cfg, err := config.Load(configFile)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return fmt.Errorf("open workspace: %w", err)
	}
	defer root.Close()
	opts := []catalog.Option{catalog.WithLogger(log)}
	if !f.NoChangelog {
		c, err := changelog(ctx, cfg, root, f)
		if err != nil {
			return err
		}
		opts = append(opts, catalog.WithChangelog(c))
	}
	site, err := catalog.Build(ctx, cfg, root.FS(), opts...)
	if err != nil {
		return err
	}
	if err := site.Write(f.Out); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote the contract catalog to %s: %d files; open %s\n", f.Out, len(site.Files()), filepath.Join(f.Out, catalog.IndexPage))
	return nil
}

// changelog runs the breaking-change gate from the older version to the
// newer one (the workspace unless --changelog-to names another).
func changelog(ctx context.Context, cfg *config.Config, root *os.Root, f *flags) (catalog.Changelog, error) {
	open := func(s string) (*baseline.Baseline, error) {
		in, err := baseline.Parse(s)
		if err != nil {
			return nil, err
		}
		return baseline.Open(ctx, in, baseline.WithDir(cfg.Root))
	}
	from, err := open(cmp.Or(f.ChangelogFrom, cfg.Breaking.Against))
	if err != nil {
		return catalog.Changelog{}, fmt.Errorf("changelog: %w (outside git, or without that baseline, pass --%s, or name one with --%s)", err, noChangelogFlagName, changelogFromFlagName)
	}
	defer from.Close()
	c := catalog.Changelog{From: from.Label(), To: workspaceLabel}
	cur := root.FS()
	if f.ChangelogTo != "" {
		to, err := open(f.ChangelogTo)
		if err != nil {
			return catalog.Changelog{}, fmt.Errorf("changelog: %w", err)
		}
		defer to.Close()
		cur, c.To = to.FS(), to.Label()
	}
	c.Findings, err = gate.Workspace(ctx, cfg, cur, from)
	if err != nil {
		return catalog.Changelog{}, fmt.Errorf("changelog: %w", err)
	}
	return c, nil
}
