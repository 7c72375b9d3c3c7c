// Package breaking is the "keiyaku breaking" command.
package breaking

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keiyaku/keiyaku/tools/internal/baseline"
	gate "github.com/keiyaku/keiyaku/tools/internal/breaking"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

const (
	againstFlagName = "against"
	formatFlagName  = "format"
	failOnFlagName  = "fail-on"
)

type flags struct {
	Against string
	Format  string
	FailOn  string
}

func (f *flags) Bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Against, againstFlagName, "", `the baseline: .git#branch=main, .git#tag=v1.2.0, .git#ref=<sha> (each with an optional ",subdir=…"), a directory, or with NEW_FILE the old file; default breaking.against of keiyaku.yaml (.git#branch=main)`)
	cmd.Flags().StringVar(&f.Format, formatFlagName, report.Text, "output format: "+strings.Join(report.Formats, ", "))
	cmd.Flags().StringVar(&f.FailOn, failOnFlagName, "", "least severity that exits 100: error, warning or info; default breaking.openapi.fail_on (error)")
}

// NewCommand returns the breaking command. configFile points at the
// --config value of the root command.
func NewCommand(name string, configFile *string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " [NEW_FILE]",
		Short: "Report the contract changes that break clients, against a baseline",
		Long: `Compare the contracts of keiyaku.yaml with a baseline and report what breaks
their users. OpenAPI changes are judged by oasdiff's rules and grouped by root
cause (one finding per changed place, listing the operations it reaches).

The baseline is read from git objects (nothing is checked out) or from a
directory. With one argument, compare two files without a workspace:
keiyaku breaking --against OLD_FILE NEW_FILE.

Exit codes: 0 clean, 100 findings at or above the fail level, 1 usage or load
error (a missing ref, a contract that does not parse).`,
		Example: `  keiyaku breaking                                  # against breaking.against (main)
  keiyaku breaking --against .git#tag=v1.2.0
  keiyaku breaking --against .git#branch=main,subdir=api --format github-actions
  keiyaku breaking --against old/openapi.yaml new/openapi.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), *configFile, f, args)
		},
	}
	f.Bind(cmd)
	return cmd
}

func run(ctx context.Context, w io.Writer, configFile string, f *flags, args []string) (retErr error) {
	defer func() { retErr = report.WriteFailure(w, f.Format, "keiyaku breaking", retErr) }()
	if !slices.Contains(report.Formats, f.Format) {
		return fmt.Errorf("--format %q: use %s", f.Format, strings.Join(report.Formats, ", "))
	}
	var (
		findings []report.Finding
		label    string
		failOn   = f.FailOn
	)
	if len(args) == 1 {
		if f.Against == "" {
			return fmt.Errorf("comparing files needs the old one: keiyaku breaking --against OLD_FILE %s", args[0])
		}
		var err error
		findings, err = gate.Files(ctx, f.Against, args[0])
		if err != nil {
			return err
		}
		label = f.Against
	} else {
		cfg, err := config.Load(configFile)
		if err != nil {
			return err
		}
		if failOn == "" {
			failOn = cfg.Breaking.OpenAPI.FailOn
		}
		against := f.Against
		if against == "" {
			against = cfg.Breaking.Against
		}
		in, err := baseline.Parse(against)
		if err != nil {
			return err
		}
		base, err := baseline.Open(ctx, in)
		if err != nil {
			return err
		}
		defer base.Close()
		root, err := os.OpenRoot(cfg.Root)
		if err != nil {
			return fmt.Errorf("open workspace: %w", err)
		}
		defer root.Close()
		findings, err = gate.Workspace(ctx, cfg, root.FS(), base)
		if err != nil {
			return err
		}
		label = base.Label()
	}
	if failOn == "" {
		failOn = string(report.Error)
	}
	min, err := report.ParseSeverity(failOn)
	if err != nil {
		return fmt.Errorf("--fail-on: %w", err)
	}
	if err := report.Write(w, f.Format, "keiyaku breaking", findings); err != nil {
		return err
	}
	n := report.Count(findings, min)
	if f.Format == report.Text {
		fmt.Fprintf(w, "%d findings against %s, %d at or above %s\n", len(findings), label, n, min)
	}
	if n > 0 {
		return &exitcode.FindingsError{N: n, What: "breaking changes"}
	}
	return nil
}
