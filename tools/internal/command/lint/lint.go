// Package lint is the "keiyaku lint" command.
package lint

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
	"github.com/keiyaku/keiyaku/tools/internal/linter"
)

// NewCommand returns the lint command. configFile points at the --config
// value of the root command.
func NewCommand(name string, configFile *string) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: "Check that every contract loads, validates and follows the rules",
		Long: `Check every contract listed in keiyaku.yaml: it must load (YAML, $refs inside
the workspace), validate as OpenAPI 3, and follow Keiyaku's rules.

A contract that does not load exits 1 with file:line:col and how to fix it.
Rule findings print as "file:line:col: severity RULE: message"; any error-level
finding exits 100.`,
		Example: `  keiyaku lint
  keiyaku lint --config path/to/keiyaku.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), *configFile)
		},
	}
}

func run(ctx context.Context, w io.Writer, configFile string) error {
	cfg, err := config.Load(configFile)
	if err != nil {
		return err
	}
	findings, err := linter.Run(ctx, cfg)
	if err != nil {
		return err
	}
	errs := 0
	for _, f := range findings {
		fmt.Fprintln(w, f)
		if f.Severity == linter.Error {
			errs++
		}
	}
	if errs > 0 {
		return &exitcode.FindingsError{N: errs, What: "lint errors"}
	}
	fmt.Fprintf(w, "%d modules, %d warnings, no errors\n", len(cfg.Modules), len(findings))
	return nil
}
