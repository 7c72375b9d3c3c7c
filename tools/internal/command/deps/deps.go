// Package deps is the "keiyaku deps" command: update and diff the contract
// dependencies of keiyaku.yaml.
package deps

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/deps"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

const (
	toFlagName     = "to"
	formatFlagName = "format"
	failOnFlagName = "fail-on"
)

// NewCommand returns the deps command and its subcommands. configFile
// points at the --config value of the root command.
func NewCommand(name string, configFile *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: "Pull and pin the contracts of other workspaces (the deps of keiyaku.yaml)",
		Long: `Contract dependencies are modules of other workspaces, declared under "deps"
in keiyaku.yaml and pinned in keiyaku.lock (commit them both):

  deps update       resolve every dep, copy its files below .keiyaku/deps/<name>/
                    and write keiyaku.lock (the only command that changes it)
  deps diff NAME    what moving NAME to another ref would break for this workspace

"keiyaku generate" generates each dep like a local module, from the locked
version; a copy below .keiyaku/deps or a tag that differs from the lock is an
error (exit 1), never accepted silently.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newUpdate("update", configFile), newDiff("diff", configFile))
	return cmd
}

func newUpdate(name string, configFile *string) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: "Resolve the deps of keiyaku.yaml and write keiyaku.lock",
		Long: `Resolve every dep of keiyaku.yaml: fetch a git source (a URL, or a path to a
repository; a bare one works, offline) into .keiyaku/deps/<name>.git, find its
ref (a tag, then a branch, then a commit id), copy the module's files (those
below its folder and those its $refs reach) read-only into
.keiyaku/deps/<name>/ and record in keiyaku.lock the commit, the tag or branch
it came from and the SHA-256 of every file. A tag the lock already pins to
another commit is an error: released tags must not move.

Exit codes: 0 ok, 1 errors (a source that cannot be read, a moved tag).`,
		Example: `  keiyaku deps update`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUpdate(cmd.Context(), cmd.OutOrStdout(), *configFile)
		},
	}
}

func runUpdate(ctx context.Context, w io.Writer, configFile string) error {
	cfg, err := config.Load(configFile)
	if err != nil {
		return err
	}
	if len(cfg.Deps) == 0 {
		return errors.New(`keiyaku.yaml has no "deps"; declare the modules to pull (see keiyaku deps --help)`)
	}
	changes, err := deps.Update(ctx, cfg)
	if err != nil {
		return err
	}
	for _, c := range changes {
		status := "added"
		if c.Old != nil {
			status = "unchanged"
			if c.Old.Commit != c.New.Commit || c.Old.Digest != c.New.Digest {
				status = "updated from " + short(c.Old.Commit) + " " + c.Old.Digest
			}
		}
		ref := c.New.Ref
		if ref == "" {
			ref = "(directory)"
		}
		fmt.Fprintf(w, "%s %s %s → %s %s (%s)\n", c.New.Name, c.New.Module, ref, orDash(short(c.New.Commit)), c.New.Digest, status)
	}
	fmt.Fprintf(w, "wrote %s (%d deps)\n", deps.LockFile, len(changes))
	return nil
}

type diffFlags struct {
	To     string
	Format string
	FailOn string
}

func (f *diffFlags) Bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.To, toFlagName, "", "the tag, branch or commit id of the dep's source to compare the locked version with (required)")
	cmd.Flags().StringVar(&f.Format, formatFlagName, report.Text, "output format: "+strings.Join(report.Formats, ", "))
	cmd.Flags().StringVar(&f.FailOn, failOnFlagName, "", "least severity that exits 100: error, warning or info; default breaking.openapi.fail_on (error)")
}

func newDiff(name string, configFile *string) *cobra.Command {
	f := &diffFlags{}
	cmd := &cobra.Command{
		Use:   name + " NAME --to REF",
		Short: "Report what moving a dep from its locked version to REF would break",
		Long: `Compare the locked version of the dep NAME with its version at REF (fetched
from its source first) with the checks of "keiyaku breaking" — OpenAPI by
oasdiff's rules, AsyncAPI by what receivers depend on, Avro against the
schema history up to the locked commit — under the breaking policy of
keiyaku.yaml: what would this upgrade break for me? Neither keiyaku.lock nor
the copy below .keiyaku/deps changes; bump with "ref:" and "keiyaku deps
update".

Exit codes: 0 nothing breaks, 100 findings at or above the fail level, 1 errors.`,
		Example: `  keiyaku deps diff member --to v1.1.0`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd.Context(), cmd.OutOrStdout(), *configFile, args[0], f)
		},
	}
	f.Bind(cmd)
	return cmd
}

func runDiff(ctx context.Context, w io.Writer, configFile, name string, f *diffFlags) error {
	if f.To == "" {
		return errors.New("--to is required: the tag, branch or commit id to compare the locked version with")
	}
	if !slices.Contains(report.Formats, f.Format) {
		return fmt.Errorf("--format %q: use %s", f.Format, strings.Join(report.Formats, ", "))
	}
	cfg, err := config.Load(configFile)
	if err != nil {
		return err
	}
	failOn := f.FailOn
	if failOn == "" {
		failOn = cfg.Breaking.OpenAPI.FailOn
	}
	min, err := report.ParseSeverity(failOn)
	if err != nil {
		return fmt.Errorf("--fail-on: %w", err)
	}
	res, err := deps.Diff(ctx, cfg, name, f.To)
	if err != nil {
		return err
	}
	if err := report.Write(w, f.Format, "keiyaku deps diff", res.Findings); err != nil {
		return err
	}
	n := report.Count(res.Findings, min)
	if f.Format == report.Text {
		fmt.Fprintf(w, "%d findings moving %s from %s to %s, %d at or above %s\n", len(res.Findings), name, res.From, res.To, n, min)
	}
	if n > 0 {
		return &exitcode.FindingsError{N: n, What: "breaking changes in dep " + name}
	}
	return nil
}

func short(commit string) string {
	if len(commit) > 7 {
		return commit[:7]
	}
	return commit
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
