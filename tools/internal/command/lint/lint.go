// Package lint is the "keiyaku lint" command.
package lint

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
	"github.com/keiyaku/keiyaku/tools/internal/linter"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

const formatFlagName = "format"

type flags struct {
	Format string
}

func (f *flags) Bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Format, formatFlagName, report.Text, "output format: "+strings.Join(report.Formats, ", "))
}

// NewCommand returns the lint command. configFile points at the --config
// value of the root command.
func NewCommand(name string, configFile *string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Check that every contract loads, validates and follows the rules",
		Long: `Check every contract listed in keiyaku.yaml: it must load (YAML, $refs inside
the workspace), validate as OpenAPI 3, and follow Keiyaku's rules (conventions
and architecture; select them with lint.use / lint.except, accept single
findings with lint.ignore and a reason).

A contract that does not load exits 1 with file:line:col and how to fix it.
Findings print as "file:line:col: severity RULE: message"; any error-level
finding exits 100.`,
		Example: `  keiyaku lint
  keiyaku lint --format github-actions   # annotations in a GitHub workflow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), *configFile, f)
		},
	}
	f.Bind(cmd)
	return cmd
}

func run(ctx context.Context, w io.Writer, configFile string, f *flags) (retErr error) {
	defer func() { retErr = report.WriteFailure(w, f.Format, "keiyaku lint", retErr) }()
	if !slices.Contains(report.Formats, f.Format) {
		return fmt.Errorf("--format %q: use %s", f.Format, strings.Join(report.Formats, ", "))
	}
	cfg, err := config.Load(configFile)
	if err != nil {
		return err
	}
	findings, err := linter.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if err := report.Write(w, f.Format, "keiyaku lint", findings); err != nil {
		return err
	}
	errs := report.Count(findings, report.Error)
	if errs > 0 {
		return &exitcode.FindingsError{N: errs, What: "lint errors"}
	}
	if f.Format == report.Text {
		summary := fmt.Sprintf("%d modules, %d warnings", len(cfg.Modules), report.Count(findings, report.Warning))
		if n := len(findings) - report.Count(findings, report.Warning); n > 0 {
			summary += fmt.Sprintf(", %d notes", n)
		}
		fmt.Fprintln(w, summary+", no errors")
	}
	return nil
}
