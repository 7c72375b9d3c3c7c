// Package embedded runs an in-process Kafka-protocol broker for demos and
// tests: a [kfake] cluster of one broker listening on a real TCP port, so
// services and tools (kcat, kgo clients in other processes) talk the real
// Kafka protocol to it.
//
// The broker keeps its data in memory unless [WithDataDir] is given. It is
// not a production Kafka: it has one broker and no replication. Point
// services at a real cluster (KAFKA_BROKERS) for anything that must survive
// a restart of the process.
//
// [Start] creates the topics the caller names (generated code passes the
// channels of its AsyncAPI documents), the compacted schema topic
// [SchemaTopic], and lets clients that ask for it create any other topic on
// first use — the dead-letter topics of consumers, "<topic>.<group>.dlq",
// are made this way unless named up front.
//
// # Durability with WithDataDir
//
// Every topic, including one created on first use, is written to the data
// folder when it is created, every produced batch before it is
// acknowledged, and every offset commit when it is made; so a broker
// process killed with SIGKILL and started again on the same folder has its
// topics, acknowledged records and committed offsets. With [WithSyncWrites]
// each batch is also fsynced before the acknowledgement, which extends
// that to a crash of the machine; without it the OS page cache holds the
// last writes.
//
// [WithProduceCheck] lets the caller refuse records before they are
// written: "keiyaku broker --enforce" refuses records that break the
// contracts of their topic.
//
// [kfake]: https://pkg.go.dev/github.com/twmb/franz-go/pkg/kfake
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SchemaTopic is the compacted topic that holds the writer schemas of
// single-object encoded events, keyed by fingerprint. It matches the default
// topic of the codec package's TopicStore.
const SchemaTopic = "_keiyaku_schemas"

// DefaultAddr is the address the broker listens on unless [WithAddr] says
// otherwise: the loopback interface and a port the kernel picks.
const DefaultAddr = "127.0.0.1:0"

// maxTopicNameLen is Kafka's limit on the length of a topic name.
const maxTopicNameLen = 249

// Topic is a topic to create when the broker starts.
type Topic struct {
	// Name is the topic name: 1 to 249 of the characters [a-zA-Z0-9._-],
	// neither "." nor "..".
	Name string
	// Partitions is the number of partitions, at least 1.
	Partitions int32
}

// Option configures [Start].
type Option func(*config)

type config struct {
	addr      string
	listener  net.Listener
	topics    []Topic
	autoParts int
	dataDir   string
	sync      bool
	check     ProduceCheck
	log       *slog.Logger
	errs      []error
}

// WithAddr sets the host:port the broker listens on and advertises to
// clients, overriding [DefaultAddr]. Use a fixed port such as
// "127.0.0.1:9092" for a demo that other processes connect to; port 0 picks
// a free port. The host must be one that clients can dial: it is returned
// to them as is in metadata responses.
func WithAddr(addr string) Option {
	return func(c *config) { c.addr = addr }
}

// WithListener makes the broker serve on ln instead of listening on an
// address of its own: the caller binds the port once and can keep it
// bound across restarts (no other socket takes it in between). The broker
// advertises ln's address and closes ln on [Broker.Close]. It overrides
// [WithAddr]. By default the broker listens on the address of [WithAddr].
func WithListener(ln net.Listener) Option {
	return func(c *config) {
		if ln == nil {
			c.errs = append(c.errs, errors.New("nil listener"))
			return
		}
		c.listener = ln
		c.addr = ln.Addr().String()
	}
}

// WithTopics adds topics to create at start. It may be given several times;
// naming a topic twice with different partition counts is an error.
// By default only [SchemaTopic] is created.
func WithTopics(topics ...Topic) Option {
	return func(c *config) { c.topics = append(c.topics, topics...) }
}

// WithContractTopics adds the topics of generated contracts: each map is a
// generated TopicPartitions (topic → the partition count of its Kafka
// binding, 0 when the binding sets none). A topic gets its binding's count,
// or 1 partition when the count is unset; a topic named in several maps
// gets the largest count. So a local run needs no partition count in the
// contract.
func WithContractTopics(partitions ...map[string]int32) Option {
	return func(c *config) {
		parts := map[string]int32{}
		for _, m := range partitions {
			for name, n := range m {
				parts[name] = max(parts[name], n, 1)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(parts)) {
			c.topics = append(c.topics, Topic{Name: name, Partitions: parts[name]})
		}
	}
}

// WithAutoTopicPartitions sets the partition count of topics created on
// first use (by a client that allows auto creation), overriding the default
// of 1. n must be at least 1.
func WithAutoTopicPartitions(n int) Option {
	return func(c *config) {
		if n < 1 {
			c.errs = append(c.errs, fmt.Errorf("auto topic partitions %d: must be at least 1", n))
			return
		}
		c.autoParts = n
	}
}

// WithDataDir keeps the broker's topics, log and group offsets in dir, so a
// broker started again with the same dir — after a clean stop or a
// SIGKILL — finds its topics, acknowledged records and committed offsets,
// overriding the default of keeping everything in memory.
func WithDataDir(dir string) Option {
	return func(c *config) { c.dataDir = dir }
}

// WithSyncWrites fsyncs every produced batch before it is acknowledged,
// overriding the default of leaving writes to the OS page cache (which a
// killed process does not lose, but a crashed machine may). Only with
// [WithDataDir].
func WithSyncWrites() Option {
	return func(c *config) { c.sync = true }
}

// WithLogger sets the logger for the broker's own messages (warnings and
// errors), overriding the default of discarding them.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.errs = append(c.errs, errors.New("nil logger"))
			return
		}
		c.log = l
	}
}

// Broker is a running embedded broker. Its methods are safe for concurrent
// use.
type Broker struct {
	cluster   *kfake.Cluster
	addrs     []string
	closeOnce sync.Once
	autoParts int32
	created   sync.Map // topic name → struct{}: exists or is being created
	log       *slog.Logger
}

// Start starts a broker, creates its topics and returns once clients can
// connect. ctx bounds the start only; the broker runs until [Broker.Close].
// Start returns an error, and leaves nothing running, when an option is
// invalid, the address cannot be listened on (for example a fixed port
// already in use) or the topics cannot be created.
func Start(ctx context.Context, opts ...Option) (*Broker, error) {
	cfg := config{
		addr:      DefaultAddr,
		autoParts: 1,
		log:       slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("embedded broker: nil option")
		}
		o(&cfg)
	}
	if err := errors.Join(cfg.errs...); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	if err := checkAddr(cfg.addr); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	topics, err := checkTopics(cfg.topics)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}

	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("keiyaku-embedded"),
		// Not kfake.AllowAutoTopicCreation: kfake does not persist the
		// topics it creates on first use; autoCreate creates them the
		// persisted way.
		kfake.DefaultNumPartitions(cfg.autoParts),
		kfake.WithLogger(slogLogger{cfg.log}),
		// kfake always asks for 127.0.0.1:<port>; listen where we were told.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			if cfg.listener != nil {
				return cfg.listener, nil
			}
			var lc net.ListenConfig
			return lc.Listen(ctx, network, cfg.addr)
		}),
	}
	if cfg.dataDir != "" {
		kopts = append(kopts, kfake.DataDir(cfg.dataDir))
		if cfg.sync {
			kopts = append(kopts, kfake.SyncWrites())
		}
	}
	cluster, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("embedded broker: listen on %s: %w", cfg.addr, err)
	}
	b := &Broker{cluster: cluster, addrs: cluster.ListenAddrs(), autoParts: int32(cfg.autoParts), log: cfg.log}
	cluster.ControlKey(kmsg.Metadata.Int16(), b.autoCreate)
	cluster.ControlKey(kmsg.DeleteTopics.Int16(), b.forgetDeleted)
	if cfg.check != nil {
		cluster.ControlKey(kmsg.Produce.Int16(), b.checkProduce(cfg.check))
	}
	compact := map[string]string{"cleanup.policy": "compact"}
	if err := b.createTopic(SchemaTopic, 1, compact); err != nil {
		b.Close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}
	for _, t := range topics {
		if err := b.createTopic(t.Name, t.Partitions, nil); err != nil {
			b.Close()
			return nil, fmt.Errorf("embedded broker: %w", err)
		}
	}
	return b, nil
}

// autoCreate observes metadata requests: a topic a client may create on
// first use (AllowAutoTopicCreation) and not known yet is created in the
// background through [kfake.Cluster.CreateTopic], which persists it. The
// request itself is answered as usual (UNKNOWN_TOPIC_OR_PARTITION while
// the topic is being made); clients ask again.
func (b *Broker) autoCreate(req kmsg.Request) (kmsg.Response, error, bool) {
	mr, ok := req.(*kmsg.MetadataRequest)
	if !ok || !mr.AllowAutoTopicCreation {
		return nil, nil, false
	}
	for _, t := range mr.Topics {
		if t.Topic == nil || checkTopicName(*t.Topic) != nil {
			continue
		}
		name := *t.Topic
		if _, loaded := b.created.LoadOrStore(name, struct{}{}); loaded {
			continue
		}
		go func() {
			if err := b.createTopic(name, b.autoParts, nil); err != nil {
				b.created.Delete(name) // try again at the next request
			}
		}()
	}
	return nil, nil, false
}

// forgetDeleted observes delete requests, so a deleted topic is created
// again on first use, as Kafka does.
func (b *Broker) forgetDeleted(req kmsg.Request) (kmsg.Response, error, bool) {
	if dr, ok := req.(*kmsg.DeleteTopicsRequest); ok {
		for _, t := range dr.TopicNames {
			b.created.Delete(t)
		}
		for _, t := range dr.Topics {
			if t.Topic != nil {
				b.created.Delete(*t.Topic)
			}
		}
	}
	return nil, nil, false
}

// createTopic creates a topic; one kept from an earlier run ([WithDataDir])
// is left as it is.
func (b *Broker) createTopic(name string, partitions int32, configs map[string]string) error {
	err := b.cluster.CreateTopic(name, partitions, configs)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	return nil
}

// Addrs returns the host:port addresses clients use as seed brokers
// (kgo.SeedBrokers, KAFKA_BROKERS). The slice is a copy.
func (b *Broker) Addrs() []string {
	return append([]string(nil), b.addrs...)
}

// Close stops the broker and closes its listener; connected clients see
// their connections drop. With [WithDataDir] the state is written to disk
// first. Close is idempotent.
func (b *Broker) Close() {
	b.closeOnce.Do(b.cluster.Close)
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("address %q: missing host (use 127.0.0.1 for loopback)", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("address %q: bad port: %w", addr, err)
	}
	return nil
}

// checkTopics validates the topics and drops exact duplicates.
func checkTopics(in []Topic) ([]Topic, error) {
	seen := make(map[string]int32, len(in))
	var out []Topic
	var errs []error
	for _, t := range in {
		if err := checkTopicName(t.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		if t.Name == SchemaTopic {
			errs = append(errs, fmt.Errorf("topic %q: reserved for schemas", t.Name))
			continue
		}
		if t.Partitions < 1 {
			errs = append(errs, fmt.Errorf("topic %q: %d partitions: must be at least 1", t.Name, t.Partitions))
			continue
		}
		if p, ok := seen[t.Name]; ok {
			if p != t.Partitions {
				errs = append(errs, fmt.Errorf("topic %q: given with %d and %d partitions", t.Name, p, t.Partitions))
			}
			continue
		}
		seen[t.Name] = t.Partitions
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

func checkTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic %q: not a valid name", name)
	case len(name) > maxTopicNameLen:
		return fmt.Errorf("topic %.20q…: name longer than %d characters", name, maxTopicNameLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic %q: character %q not allowed (use a-z A-Z 0-9 . _ -)", name, r)
		}
	}
	return nil
}

// slogLogger hands kfake's warnings and errors to a slog.Logger; its info
// and debug messages (one per request) are dropped.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		s.l.Error("kfake: " + fmt.Sprintf(msg, args...))
	case kfake.LogLevelWarn:
		s.l.Warn("kfake: " + fmt.Sprintf(msg, args...))
	}
}
