// Package generate is the "keiyaku generate" command.
package generate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
	"github.com/keiyaku/keiyaku/tools/internal/generator"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

const (
	checkFlagName   = "check"
	noCacheFlagName = "no-cache"
	formatFlagName  = "format"
)

type flags struct {
	Check   bool
	NoCache bool
	Format  string
}

func (f *flags) Bind(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.Check, checkFlagName, false, "write nothing; list stale, missing and orphaned files and exit 100 if there are any")
	cmd.Flags().BoolVar(&f.NoCache, noCacheFlagName, false, "regenerate even when nothing changed since the last generation")
	cmd.Flags().StringVar(&f.Format, formatFlagName, report.Text, "output format of errors and of --check: "+strings.Join(report.Formats, ", ")+"; other than text, only the report is printed")
}

// NewCommand returns the generate command. configFile points at the
// --config value of the root command.
func NewCommand(name string, configFile *string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name,
		Short: "Generate Go code from the contracts in keiyaku.yaml",
		Long: `Generate Go code from the contracts listed in keiyaku.yaml into generate.out
(default gen/): for each OpenAPI contract, one package with its types, a strict
net/http server, a client with typed responses and the embedded spec. What is
not generated is said with a "skipped" line: AsyncAPI channels and messages of
other kinds than Kafka + Avro, and OpenAPI 3.1 modules oapi-codegen cannot
generate (nothing is written for them; exit 0, as lint only warns).

Unchanged files are not rewritten; generated files whose contract is gone are
removed. When neither the contracts, keiyaku.yaml, the generated files nor the
keiyaku binary changed since the last run (recorded in .keiyaku/cache/),
nothing is regenerated; --no-cache forces a full run. With --check nothing is written: the command lists what is stale,
missing or orphaned and exits 100 if anything is.`,
		Example: `  keiyaku generate
  keiyaku generate --check   # in CI: fail when gen/ is out of date`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), *configFile, f)
		},
	}
	f.Bind(cmd)
	return cmd
}

func run(ctx context.Context, out io.Writer, configFile string, f *flags) (retErr error) {
	defer func() { retErr = report.WriteFailure(out, f.Format, suite, retErr) }()
	if !slices.Contains(report.Formats, f.Format) {
		return fmt.Errorf("--format %q: use %s", f.Format, strings.Join(report.Formats, ", "))
	}
	// The progress lines are text; other formats print only the report.
	w := out
	if f.Format != report.Text {
		w = io.Discard
	}
	var findings []report.Finding
	defer func() {
		if retErr == nil || errors.As(retErr, new(*exitcode.FindingsError)) {
			if f.Format != report.Text {
				retErr = errors.Join(retErr, report.Write(out, f.Format, suite, findings))
			}
		}
	}()
	start := time.Now()
	cfg, err := config.Load(configFile)
	if err != nil {
		return err
	}
	if err := cfg.RequireGoModule(); err != nil {
		return err
	}
	if !f.Check && !f.NoCache && generator.UpToDate(cfg, fingerprint()) {
		for _, t := range generator.Plan(cfg) {
			fmt.Fprintf(w, "%-9s %s%s\n", generator.Unchanged, t.Path, from(t.Source))
		}
		fmt.Fprintf(w, "done in %s (nothing changed since the last generation)\n", ms(time.Since(start)))
		return nil
	}
	files, err := generator.Generate(ctx, cfg)
	if err != nil {
		return err
	}
	// What generate leaves out or does not type is no error, but it is
	// said: in text, and as findings in the other formats, as lint reports
	// them (ASYNCAPI_NOT_GENERATED, info; ASYNCAPI_PAYLOAD_UNTYPED and
	// OPENAPI_NOT_GENERATED, warnings).
	for _, file := range files {
		for _, s := range file.Skipped {
			f := s.Finding()
			label := "skipped"
			if s.Untyped {
				label = "untyped"
			}
			_, text, _ := strings.Cut(f.Message, ": ") // the part and why
			fmt.Fprintf(w, "%-9s %s:%d:%d: %s\n", label, s.File, s.Line, s.Column, text)
			findings = append(findings, f)
		}
	}
	if f.Check {
		changes, err := generator.Check(cfg.Root, cfg.Generate.Out, files)
		if err != nil {
			return err
		}
		bad := 0
		for _, c := range changes {
			if c.Status != generator.Unchanged {
				bad++
				fmt.Fprintf(w, "%s: %s%s\n", c.Path, c.Status, from(c.Source))
				findings = append(findings, report.Finding{Rule: "GENERATED_" + strings.ToUpper(string(c.Status)), Severity: report.Error, Format: "go",
					File: c.Path, Message: fmt.Sprintf("%s%s; run \"keiyaku generate\" and commit the result", c.Status, from(c.Source))})
			}
		}
		if bad > 0 {
			fmt.Fprintf(w, "run \"keiyaku generate\" (make generate) and commit the result\n")
			return &exitcode.FindingsError{N: bad, What: "generated files out of date"}
		}
		n := 0 // omitted files are not generated, so not "up to date"
		for _, f := range files {
			if !f.Omitted {
				n++
			}
		}
		fmt.Fprintf(w, "%d generated files up to date (%s)\n", n, ms(time.Since(start)))
		return nil
	}
	changes, err := generator.Write(cfg.Root, cfg.Generate.Out, files)
	if err != nil {
		return errors.Join(err, generator.Forget(cfg.Root))
	}
	if err := generator.Remember(cfg, fingerprint(), files); err != nil {
		return err
	}
	for _, c := range changes {
		fmt.Fprintf(w, "%-9s %s%s", c.Status, c.Path, from(c.Source))
		if c.Took > 0 {
			fmt.Fprintf(w, " in %s", ms(c.Took))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "done in %s\n", ms(time.Since(start)))
	return nil
}

// suite names the command in JUnit output.
const suite = "keiyaku generate"

// fingerprint identifies the running keiyaku build for the generation
// cache: a rebuilt binary never reuses a record of another one.
func fingerprint() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	st, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s %d %d", exe, st.Size(), st.ModTime().UnixNano())
}

func from(source string) string {
	if source == "" {
		return ""
	}
	return " (from " + source + ")"
}

func ms(d time.Duration) string { return d.Round(100 * time.Microsecond).String() }
