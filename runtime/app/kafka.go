package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/outbox"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

// registryTimeout bounds one call to the schema registry.
const registryTimeout = 10 * time.Second

// KafkaConfig is how a service reaches Kafka.
type KafkaConfig struct {
	// Client holds the seed brokers and, for a secured cluster, TLS and
	// SASL. At least one broker is required.
	Client events.ClientConfig
	// SchemaRegistryURL, when set, is the base URL of a
	// Confluent-compatible schema registry: event values are then framed
	// with registry ids (codec.Confluent). Empty means Avro single-object
	// encoding with writer schemas in the compacted schema topic
	// (codec.SingleObject on a codec.TopicStore). Credentials do not
	// belong in it: a URL's user information is moved to the basic-auth
	// login (below) and never reaches ce_dataschema headers, logs or
	// errors.
	SchemaRegistryURL string
	// SchemaRegistryUsername and SchemaRegistryPassword, when set, log in
	// to the registry with HTTP basic auth. Default: no login.
	SchemaRegistryUsername string
	SchemaRegistryPassword string
	// SchemaRegistryTLS, when set, is the TLS configuration of an https
	// registry (e.g. a private CA, a client certificate). Default: the
	// system roots.
	SchemaRegistryTLS *tls.Config
	// ClientID names the service's Kafka clients to the brokers (their
	// logs, quotas, metrics). Empty means the consumer group for a
	// consumer and the last element of the source for a producer;
	// [LoadEnv] sets the service name.
	ClientID string
	// Group is how consumers take part in their groups. Zero fields keep
	// franz-go's defaults (events.DefaultSessionTimeout, 45 s); [LoadEnv]
	// sets [DefaultSessionTimeout] and [DefaultHeartbeatInterval] for the
	// service binaries, so a member killed without leaving loses its
	// partitions within about 6 s.
	Group events.GroupConfig
	// ProcessedRetention is how long a consumer remembers the ids of the
	// events it processed, to drop redeliveries. Keep it at least the
	// retention of the topics it reads (Kafka's default is 7 days): an
	// event redelivered after its id was pruned is processed again. Zero
	// means [DefaultProcessedRetention].
	ProcessedRetention time.Duration
}

// RedactURL returns raw without its user information (user:password@),
// for logs and error text; a raw that does not parse as a URL comes back
// as "(invalid URL)" so that nothing of it is shown.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User = nil
	return u.String()
}

// registryEndpoint returns the registry URL of cfg without user
// information and the basic-auth login: the explicit username and password,
// or else those of the URL. Giving both is an error, and so is a URL that
// is not absolute http(s); errors never quote the URL's credentials.
func registryEndpoint(cfg KafkaConfig) (base, user, pass string, err error) {
	u, perr := url.Parse(cfg.SchemaRegistryURL)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", "", fmt.Errorf("schema registry url %s: not an absolute http(s) URL", RedactURL(cfg.SchemaRegistryURL))
	}
	user, pass = cfg.SchemaRegistryUsername, cfg.SchemaRegistryPassword
	if u.User != nil {
		if user != "" || pass != "" {
			return "", "", "", fmt.Errorf("schema registry url %s: the login is given twice, in the URL and as username/password: keep only the username and password", RedactURL(cfg.SchemaRegistryURL))
		}
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	return u.String(), user, pass, nil
}

// Defaults of [KafkaConfig].
const (
	// DefaultSessionTimeout is the session timeout [LoadEnv] sets
	// (KAFKA_SESSION_TIMEOUT): Kafka's smallest allowed one
	// (group.min.session.timeout.ms); a consumer killed with SIGKILL
	// loses its partitions after it.
	DefaultSessionTimeout = 6 * time.Second
	// DefaultHeartbeatInterval is the heartbeat interval [LoadEnv] sets
	// (KAFKA_HEARTBEAT_INTERVAL), a quarter of the session timeout.
	DefaultHeartbeatInterval = 1500 * time.Millisecond
	// DefaultProcessedRetention is Kafka's default topic retention
	// (log.retention.hours=168).
	DefaultProcessedRetention = 7 * 24 * time.Hour
	// pruneInterval is how often a consumer prunes its processed ids.
	pruneInterval = time.Hour
)

// Producer is a service's producing Kafka client and the events.Producer
// on it, for a transactional outbox: records are built (the generated
// Publisher's ...Record methods, or events.NewRecord) on [Producer.Events]
// with no broker call, stored with the state change, and sent later by
// [Producer.Send], the send function of an outbox relay.
//
// Without a schema registry, the writer schema of a record is put into the
// schema topic by Send, before the first record that uses it is produced,
// rather than when the record is built: building a record never waits for
// Kafka, and a schema always reaches the topic before its records. So
// records built on Events must be sent with Send, never with
// events.Publish or a generated Publish method, which would skip that
// step. With a registry, the first record of each schema registers it
// while being built, which needs the registry.
//
// A Producer is safe for concurrent use. Close it after the last Send.
type Producer struct {
	events  *events.Producer
	client  *kgo.Client
	schemas *deferredStore // nil with a registry
}

// NewProducer returns a Producer whose records carry source as ce_source
// (e.g. "/services/reservation"). Its client requires acks from all
// in-sync replicas and writes idempotently (events.ProducerClientOptions).
// NewProducer does not contact the brokers; with a registry it does not
// contact the registry either.
func NewProducer(cfg KafkaConfig, source string, t Telemetry) (*Producer, error) {
	t = t.Resolved()
	copts, err := cfg.Client.Options()
	if err != nil {
		return nil, fmt.Errorf("new producer: %w", err)
	}
	clientID := cfg.ClientID
	if clientID == "" {
		clientID = path.Base(source)
	}
	client, err := kgo.NewClient(slices.Concat(events.ProducerClientOptions(), copts, []kgo.Opt{kgo.ClientID(clientID)})...)
	if err != nil {
		return nil, fmt.Errorf("new producer: kafka client: %w", err)
	}
	p := &Producer{client: client}
	var c codec.Codec
	if cfg.SchemaRegistryURL != "" {
		c, err = registryCodec(cfg, t)
	} else {
		var store *codec.TopicStore
		store, err = codec.NewTopicStore(client, codec.WithLogger(t.Logger))
		if err == nil {
			p.schemas = &deferredStore{topic: store}
			c, err = codec.NewSingleObject(p.schemas)
		}
	}
	if err == nil {
		opts := make([]events.ProducerOption, 0, 4)
		for _, o := range t.EventOptions() {
			opts = append(opts, o)
		}
		p.events, err = events.NewProducer(client, c, source, opts...)
	}
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("new producer: %w", err)
	}
	return p, nil
}

// Events returns the events.Producer that builds records; give it to a
// generated NewPublisher and use only its ...Record methods (see
// [Producer]).
func (p *Producer) Events() *events.Producer { return p.events }

// Send puts the writer schemas not yet in the schema topic there (creating
// the topic if needed), then produces recs and waits for the brokers, as
// events.Producer.Send does. It is the send function of an outbox relay.
// An error means some records may not have been produced: send them again
// (consumers deduplicate by event id).
func (p *Producer) Send(ctx context.Context, recs ...*kgo.Record) error {
	if p.schemas != nil {
		if err := p.schemas.flush(ctx); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	return p.events.Send(ctx, recs...)
}

// Close closes the Kafka client, abandoning records still being sent.
func (p *Producer) Close() { p.client.Close() }

// Consumer is a service's consuming Kafka client and the events.Consumer on
// it. Register the handlers (the generated RegisterEventHandler) on the
// embedded events.Consumer, then call Run once; Close it after Run
// returns. Add its Ready to the service's readiness checks.
type Consumer struct {
	*events.Consumer
	client    *kgo.Client
	processed *sqldb.Processed
	retention time.Duration
	log       *slog.Logger
}

// Run consumes until ctx is done (see events.Consumer.Run) and, meanwhile,
// forgets processed event ids older than the retention
// ([KafkaConfig.ProcessedRetention]) at start and every hour. A failed
// prune is logged and tried again at the next hour; it never stops the
// consumer.
func (c *Consumer) Run(ctx context.Context) error {
	pctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(pruneInterval)
		defer t.Stop()
		for {
			c.prune(pctx)
			select {
			case <-pctx.Done():
				return
			case <-t.C:
			}
		}
	})
	err := c.Consumer.Run(ctx)
	cancel()
	wg.Wait()
	return err
}

// prune forgets the processed ids older than the retention.
func (c *Consumer) prune(ctx context.Context) {
	n, err := c.processed.Prune(ctx, time.Now().Add(-c.retention))
	switch {
	case err != nil && ctx.Err() == nil:
		c.log.LogAttrs(ctx, slog.LevelWarn, "processed events: prune failed; will retry", slog.Any("error", err))
	case n > 0:
		c.log.LogAttrs(ctx, slog.LevelInfo, "processed events: pruned", slog.Int64("ids", n), slog.Duration("retention", c.retention))
	}
}

// NewConsumer returns a Consumer of topics in group whose handlers run
// through sqldb.NewProcessed on db: each event id is recorded in the same
// transaction as the handler's writes (the handler finds it with
// sqldb.TxFrom on its context), so a redelivered event is acknowledged
// without running the handler again. Offsets are committed after the
// handler succeeded; a handler failing with a retryable error is retried,
// its partition waiting, until it succeeds; poison goes to the group's
// dead-letter topic (see runtime/events). opts follow the telemetry and
// idempotency options and may override them. NewConsumer creates the
// processed-events table; it does not contact the brokers.
func NewConsumer(ctx context.Context, cfg KafkaConfig, db *sqldb.DB, group string, topics []string, t Telemetry, opts ...events.ConsumerOption) (*Consumer, error) {
	if db == nil {
		return nil, errors.New("new consumer: nil database")
	}
	t = t.Resolved()
	copts, err := cfg.Client.Options()
	if err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	processed, err := sqldb.NewProcessed(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("new consumer: processed events: %w", err)
	}
	gcfg := cfg.Group
	if gcfg.ClientID = cfg.ClientID; gcfg.ClientID == "" {
		gcfg.ClientID = group
	}
	gopts, err := gcfg.Options()
	if err != nil {
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	retention := cfg.ProcessedRetention
	if retention == 0 {
		retention = DefaultProcessedRetention
	}
	if retention < 0 {
		return nil, fmt.Errorf("new consumer: processed retention %v: must be positive", retention)
	}
	client, err := kgo.NewClient(slices.Concat(events.ConsumerClientOptions(group, topics...), copts, gopts)...)
	if err != nil {
		return nil, fmt.Errorf("new consumer: kafka client: %w", err)
	}
	var c codec.Codec
	if cfg.SchemaRegistryURL != "" {
		c, err = registryCodec(cfg, t)
	} else {
		var store *codec.TopicStore
		store, err = codec.NewTopicStore(client, codec.WithLogger(t.Logger))
		if err == nil {
			c, err = codec.NewSingleObject(store)
		}
	}
	var cons *events.Consumer
	if err == nil {
		all := make([]events.ConsumerOption, 0, 5+len(opts))
		for _, o := range t.EventOptions() {
			all = append(all, o)
		}
		all = append(all, events.WithIdempotency(processed))
		cons, err = events.NewConsumer(client, c, append(all, opts...)...)
	}
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("new consumer: %w", err)
	}
	return &Consumer{Consumer: cons, client: client, processed: processed, retention: retention, log: t.Logger}, nil
}

// Close closes the Kafka client. Call it after Run returned.
func (c *Consumer) Close() { c.client.Close() }

// registryCodec returns the Confluent codec on the registry of cfg, called
// through t's traced transport with cfg's login and TLS. The codec and the
// registry client only ever see the URL without user information, so
// ce_dataschema headers and errors carry no credentials.
func registryCodec(cfg KafkaConfig, t Telemetry) (codec.Codec, error) {
	base, user, pass, err := registryEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	tr := newTransport()
	if cfg.SchemaRegistryTLS != nil {
		tr.TLSClientConfig = cfg.SchemaRegistryTLS.Clone()
	}
	opts := []sr.ClientOpt{sr.URLs(base), sr.HTTPClient(&http.Client{Transport: t.Transport(tr), Timeout: registryTimeout})}
	if user != "" || pass != "" {
		opts = append(opts, sr.BasicAuth(user, pass))
	}
	rc, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry %s: %w", base, err)
	}
	return codec.NewConfluent(rc, codec.WithDataSchemaURL(base))
}

// deferredStore is the producer's SchemaStore: Put only remembers the
// schema, and flush puts what was remembered into the schema topic. The
// codec calls Put while a record is built, inside the caller's database
// transaction; the schema reaches the topic when Producer.Send flushes,
// before the records are produced.
type deferredStore struct {
	topic *codec.TopicStore

	flushMu sync.Mutex // one flush at a time; guards ensured
	ensured bool

	mu      sync.Mutex // guards pending
	pending []*codec.Schema
}

var _ codec.SchemaStore = (*deferredStore)(nil)

// Put remembers s for the next flush. It does no I/O and never fails.
func (d *deferredStore) Put(_ context.Context, s *codec.Schema) error {
	if s == nil {
		return errors.New("put schema: nil schema")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.ContainsFunc(d.pending, func(p *codec.Schema) bool { return p.Fingerprint() == s.Fingerprint() }) {
		d.pending = append(d.pending, s)
	}
	return nil
}

// Get reads the schema topic.
func (d *deferredStore) Get(ctx context.Context, fingerprint uint64) (*codec.Schema, error) {
	return d.topic.Get(ctx, fingerprint)
}

// flush puts the remembered schemas into the schema topic, creating it
// first. A schema whose put failed stays remembered for the next flush.
func (d *deferredStore) flush(ctx context.Context) error {
	d.mu.Lock()
	n := len(d.pending)
	d.mu.Unlock()
	if n == 0 {
		return nil
	}
	d.flushMu.Lock()
	defer d.flushMu.Unlock()
	if !d.ensured {
		if err := d.topic.EnsureTopic(ctx); err != nil {
			return fmt.Errorf("schema topic: %w", err)
		}
		d.ensured = true
	}
	for {
		d.mu.Lock()
		if len(d.pending) == 0 {
			d.mu.Unlock()
			return nil
		}
		s := d.pending[0]
		d.mu.Unlock()
		if err := d.topic.Put(ctx, s); err != nil {
			return fmt.Errorf("put schema %s: %w", s.FullName(), err)
		}
		d.mu.Lock()
		d.pending = slices.DeleteFunc(d.pending, func(p *codec.Schema) bool { return p == s })
		d.mu.Unlock()
	}
}

// NewOutbox returns the transactional outbox on db (creating its table)
// and the relay that publishes it through p, with t's logger, meter and
// tracer providers and propagator (each record's send span joins the
// trace of the request that added it); opts follow and may override them.
// A service adds the records of its events to the store in the
// transaction of its state change, calls Notify on the relay after the
// commit, and runs the relay for as long as it serves.
func NewOutbox(ctx context.Context, db *sqldb.DB, p *Producer, t Telemetry, opts ...outbox.RelayOption) (*outbox.Store, *outbox.Relay, error) {
	if p == nil {
		return nil, nil, errors.New("new outbox: nil producer")
	}
	t = t.Resolved()
	store, err := outbox.NewStore(ctx, db)
	if err != nil {
		return nil, nil, fmt.Errorf("new outbox: %w", err)
	}
	relay, err := outbox.NewRelay(store, p.Send,
		append([]outbox.RelayOption{outbox.WithLogger(t.Logger), outbox.WithMeterProvider(t.MeterProvider),
			outbox.WithTracerProvider(t.TracerProvider), outbox.WithPropagator(t.Propagator)}, opts...)...)
	if err != nil {
		return nil, nil, fmt.Errorf("new outbox: %w", err)
	}
	return store, relay, nil
}
