// Package verify is the "keiyaku verify" command: contract tests of a live
// provider (its HTTP API) or of a live Kafka topic, generated from a
// module's contracts.
package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/exitcode"
	"github.com/keiyaku/keiyaku/tools/internal/mock"
	"github.com/keiyaku/keiyaku/tools/internal/report"
	"github.com/keiyaku/keiyaku/tools/internal/verify"
)

const (
	moduleFlagName     = "module"
	urlFlagName        = "url"
	setupURLFlagName   = "setup-url"
	headerFlagName     = "header"
	seedFlagName       = "seed"
	formatFlagName     = "format"
	failOnFlagName     = "fail-on"
	brokersFlagName    = "brokers"
	topicFlagName      = "topic"
	maxRecordsFlagName = "max-records"
	timeoutFlagName    = "timeout"
)

type flags struct {
	Module     string
	URL        string
	SetupURL   string
	Headers    []string
	Seed       uint64
	Format     string
	FailOn     string
	Brokers    string
	Topic      string
	MaxRecords int
	Timeout    time.Duration
}

func (f *flags) Bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.Module, moduleFlagName, "", "the module whose contracts to verify: a module path, a module name (member/v1), a service or a dep name (required)")
	cmd.Flags().StringVar(&f.URL, urlFlagName, "", "base URL of the live provider, e.g. http://127.0.0.1:8081: verify its HTTP API against the module's OpenAPI")
	cmd.Flags().StringVar(&f.SetupURL, setupURLFlagName, "", "provider-state hook: POSTed {operationId, method, path, case} before each request; may answer {path, query, header} values to use")
	cmd.Flags().StringArrayVar(&f.Headers, headerFlagName, nil, `a header added to every request, "Name: value" (credentials, say); repeatable`)
	cmd.Flags().Uint64Var(&f.Seed, seedFlagName, 1, "seed of generated requests")
	cmd.Flags().StringVar(&f.Format, formatFlagName, report.Text, "output format: "+strings.Join(report.Formats, ", "))
	cmd.Flags().StringVar(&f.FailOn, failOnFlagName, string(report.Error), "least severity that exits 100: error, warning or info")
	cmd.Flags().StringVar(&f.Brokers, brokersFlagName, "", "comma-separated Kafka brokers: verify the records of --topic against the module's AsyncAPI and Avro contracts")
	cmd.Flags().StringVar(&f.Topic, topicFlagName, "", "the topic to read (with --brokers)")
	cmd.Flags().IntVar(&f.MaxRecords, maxRecordsFlagName, 1000, "read at most this many records (with --brokers)")
	cmd.Flags().DurationVar(&f.Timeout, timeoutFlagName, 10*time.Second, "stop reading when no record came for this long (with --brokers)")
}

// NewCommand returns the verify command. configFile points at the
// --config value of the root command.
func NewCommand(name string, configFile *string) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   name + " --module M (--url URL | --brokers B --topic T)",
		Short: "Contract tests of a live provider or topic, generated from a module's contracts",
		Long: `With --url, call every operation of the module's OpenAPI on the live provider:
a request made from the contract's examples, one generated from the schemas,
and requests that break the contract (a required property left out, a wrong
type, a value outside its enum, a required query parameter or header left
out, a path or query parameter of the wrong type or format). Each answer must be documented (status,
headers, Content-Type, body schema); errors must be problem+json; a valid
request must not get a 500; a broken one must get a documented 4xx, never a
2xx or 5xx. --setup-url is called before each request to set up provider
states.

With --brokers and --topic, read the topic from its start (at most
--max-records, stopping after --timeout without a record) and check each
record: the key against the message's key schema, the value decodes with a
known schema version (its fingerprint), the CloudEvents headers are present
and agree with the contract and the payload, traceparent is valid. A summary
table lists conforming and non-conforming records with the first offenders'
offsets.

Exit codes: 0 conforms, 100 findings at or above --fail-on, 1 usage or load
errors.`,
		Example: `  keiyaku verify --module member --url http://127.0.0.1:8081
  keiyaku verify --module reservation --url http://127.0.0.1:8080 --format junit > verify.xml
  keiyaku verify --module reservation --brokers 127.0.0.1:9092 --topic reservation.events`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), cmd.OutOrStdout(), *configFile, f)
		},
	}
	f.Bind(cmd)
	return cmd
}

func run(ctx context.Context, w io.Writer, configFile string, f *flags) error {
	if f.Module == "" {
		return errors.New("--module is required: the module whose contracts to verify")
	}
	if (f.URL == "") == (f.Brokers == "") {
		return errors.New("give --url (verify a provider's HTTP API) or --brokers with --topic (verify a topic), one of them")
	}
	if f.Brokers != "" && f.Topic == "" {
		return errors.New("--topic is required with --brokers")
	}
	if !slices.Contains(report.Formats, f.Format) {
		return fmt.Errorf("--format %q: use %s", f.Format, strings.Join(report.Formats, ", "))
	}
	min, err := report.ParseSeverity(f.FailOn)
	if err != nil {
		return fmt.Errorf("--fail-on: %w", err)
	}
	cfg, err := config.Load(configFile)
	if err != nil {
		return err
	}
	modules, err := mock.Select(cfg, []string{f.Module})
	if err != nil {
		return err
	}
	if f.Brokers != "" {
		return runTopic(ctx, w, cfg, modules[0], f, min)
	}
	contracts, err := mock.Load(ctx, cfg, modules, false)
	if err != nil {
		return err
	}
	header := http.Header{}
	for _, h := range f.Headers {
		name, value, ok := strings.Cut(h, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("--%s %q: want \"Name: value\"", headerFlagName, h)
		}
		header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	c := contracts[0]
	start := time.Now()
	res, err := verify.HTTP(ctx, c.Doc, f.URL, verify.WithSetupURL(f.SetupURL), verify.WithSeed(f.Seed), verify.WithFile(c.File), verify.WithHeader(header))
	if err != nil {
		return err
	}
	if err := report.Write(w, f.Format, "keiyaku verify "+c.Name(), res.Findings); err != nil {
		return err
	}
	n := report.Count(res.Findings, min)
	if f.Format == report.Text {
		fmt.Fprintf(w, "%s at %s: %d operations, %d requests, %d findings, %d at or above %s (%s)\n",
			c.Name(), f.URL, res.Operations, res.Cases, len(res.Findings), n, min, time.Since(start).Round(time.Millisecond))
	}
	if n > 0 {
		return &exitcode.FindingsError{N: n, What: "contract mismatches of " + c.Name() + " at " + f.URL}
	}
	return nil
}

func runTopic(ctx context.Context, w io.Writer, cfg *config.Config, m config.Module, f *flags, min report.Severity) error {
	file := path.Join(m.Path, "asyncapi.yaml")
	doc, err := asyncapi.Load(ctx, cfg.Root, file)
	if err != nil {
		return err
	}
	opts, err := events.ClientConfig{Brokers: strings.Split(f.Brokers, ",")}.Options()
	if err != nil {
		return fmt.Errorf("--brokers: %w", err)
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("--brokers: %w", err)
	}
	defer client.Close()
	start := time.Now()
	res, err := verify.Topic(ctx, client, doc, f.Topic, verify.TopicOptions{MaxRecords: f.MaxRecords, Idle: f.Timeout})
	if err != nil {
		return err
	}
	if err := report.Write(w, f.Format, "keiyaku verify "+m.Name()+" "+f.Topic, res.Findings); err != nil {
		return err
	}
	n := report.Count(res.Findings, min)
	if f.Format == report.Text {
		res.WriteSummary(w)
		fmt.Fprintf(w, "%s on %s: %d records, %d findings listed (%s)\n", m.Name(), f.Topic, res.Records, len(res.Findings), time.Since(start).Round(time.Millisecond))
	}
	if n > 0 {
		return &exitcode.FindingsError{N: n, What: "non-conforming records on " + f.Topic}
	}
	return nil
}
