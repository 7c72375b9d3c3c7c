package app_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/keiyaku/keiyaku/runtime/app"
	"github.com/keiyaku/keiyaku/runtime/app/apptest"
	"github.com/keiyaku/keiyaku/runtime/events"
	"github.com/keiyaku/keiyaku/runtime/events/codec"
	"github.com/keiyaku/keiyaku/runtime/sqldb"
)

type pinged struct {
	ID string `avro:"id"`
	N  int64  `avro:"n"`
}

var pingedType = events.Type[pinged]{
	Name:  "keiyaku.apptest.v1.Pinged",
	Topic: "pings",
	Schema: codec.MustSchema(`{"type": "record", "name": "Pinged", "namespace": "keiyaku.apptest.v1",
		"fields": [{"name": "id", "type": "string"}, {"name": "n", "type": "long"}]}`),
	Key: func(p *pinged) string { return p.ID },
}

// pingedV2 is a later version of the schema (a field with a default
// added): a consumer built with it must find the writer schema of a
// record in the schema topic to decode it.
type pingedV2 struct {
	ID   string  `avro:"id"`
	N    int64   `avro:"n"`
	Note *string `avro:"note"`
}

var pingedV2Schema = codec.MustSchema(`{"type": "record", "name": "Pinged", "namespace": "keiyaku.apptest.v1",
	"fields": [{"name": "id", "type": "string"}, {"name": "n", "type": "long"},
		{"name": "note", "type": ["null", "string"], "default": null}]}`)

// deadBroker returns an address where nothing listens.
func deadBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestProducerBuildsWithoutKafka pins what lets a service take requests
// while Kafka is down: building a record (what a handler does inside its
// database transaction, for the outbox) makes no broker call, so it
// succeeds with no broker at all.
func TestProducerBuildsWithoutKafka(t *testing.T) {
	t.Parallel()
	cfg := app.KafkaConfig{Client: events.ClientConfig{Brokers: []string{deadBroker(t)}}}
	p, err := app.NewProducer(cfg, "/services/test", app.Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	rec, err := events.NewRecord(ctx, p.Events(), pingedType, &pinged{ID: "a", N: 1})
	if err != nil {
		t.Fatalf("NewRecord with Kafka down: %v", err)
	}
	if string(rec.Key) != "a" || rec.Topic != "pings" {
		t.Errorf("record %s/%s", rec.Topic, rec.Key)
	}
}

// TestProducerPutsSchemaBeforeRecords pins the other half: the writer
// schema of a record reaches the schema topic when the record is sent —
// not before, since building made no broker call — and before the record
// itself, so every consumer can decode every record it sees; concurrent
// sends are safe.
func TestProducerPutsSchemaBeforeRecords(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kafka := apptest.Broker(t, map[string]int32{"pings": 3})
	p, err := app.NewProducer(kafka, "/services/test", app.Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	first, err := events.NewRecord(ctx, p.Events(), pingedType, &pinged{ID: "a", N: 1})
	if err != nil {
		t.Fatal(err)
	}

	reader := func() codec.Codec {
		cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Client.Brokers...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		store, err := codec.NewTopicStore(cl, codec.WithReadTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		c, err := codec.NewSingleObject(store)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var got pingedV2
	if err := reader().Decode(ctx, first.Value, pingedV2Schema, &got); !errors.Is(err, codec.ErrUnknownSchema) {
		t.Fatalf("decode before Send = %v, want %v (the schema is put by Send)", err, codec.ErrUnknownSchema)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			rec := first
			if i > 0 {
				var err error
				if rec, err = events.NewRecord(ctx, p.Events(), pingedType, &pinged{ID: "b", N: int64(i)}); err != nil {
					errs <- err
					return
				}
			}
			errs <- p.Send(ctx, rec)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	if err := reader().Decode(ctx, first.Value, pingedV2Schema, &got); err != nil || got.ID != "a" || got.N != 1 || got.Note != nil {
		t.Errorf("decode after Send = %+v, %v", got, err)
	}
}

// TestRegistryCredentialsStayOutOfRecords pins the fix of a leak: the
// registry login, whether given as SCHEMA_REGISTRY_USERNAME/_PASSWORD or
// (as before) inside SCHEMA_REGISTRY_URL, authenticates every registry call
// but never appears in a produced record's headers (ce_dataschema was the
// URL verbatim) nor in the error of a failing registry call.
func TestRegistryCredentialsStayOutOfRecords(t *testing.T) {
	t.Parallel()
	const user, pass = "svc-reservation", "s3cret-Pa55"
	reg := srfake.New(srfake.WithAuth("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))))
	t.Cleanup(reg.Close)
	regURL, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	inURL := *regURL
	inURL.User = url.UserPassword(user, pass)
	kafka := apptest.Broker(t, map[string]int32{"pings": 1})
	for _, tc := range []struct {
		name string
		cfg  func(app.KafkaConfig) app.KafkaConfig
	}{
		{"own variables", func(k app.KafkaConfig) app.KafkaConfig {
			env, err := app.LoadEnv(func(key string) string {
				return map[string]string{"KAFKA_BROKERS": strings.Join(k.Client.Brokers, ","),
					"SCHEMA_REGISTRY_URL": reg.URL(), "SCHEMA_REGISTRY_USERNAME": user, "SCHEMA_REGISTRY_PASSWORD": pass}[key]
			}, "test", ":0")
			if err != nil {
				t.Fatal(err)
			}
			return env.Kafka
		}},
		{"login in the URL", func(k app.KafkaConfig) app.KafkaConfig {
			k.SchemaRegistryURL = inURL.String()
			return k
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := app.NewProducer(tc.cfg(kafka), "/services/test", app.Telemetry{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			rec, err := events.NewRecord(t.Context(), p.Events(), pingedType, &pinged{ID: "a", N: 1})
			if err != nil {
				t.Fatalf("NewRecord through the registry with a login: %v", err)
			}
			var ds string
			for _, h := range rec.Headers {
				if strings.Contains(string(h.Value), pass) || strings.Contains(string(h.Value), user) {
					t.Errorf("header %s = %q carries the registry login", h.Key, h.Value)
				}
				if h.Key == events.HeaderDataSchema {
					ds = string(h.Value)
				}
			}
			if want := strings.TrimSuffix(reg.URL(), "/") + "/schemas/ids/"; !strings.HasPrefix(ds, want) {
				t.Errorf("ce_dataschema = %q, want %s<id>", ds, want)
			}
		})
	}

	// A wrong password: the registry refuses, and the error names the
	// registry without the login.
	wrong := *regURL
	wrong.User = url.UserPassword(user, "wr0ng-"+pass)
	k := kafka
	k.SchemaRegistryURL = wrong.String()
	p, err := app.NewProducer(k, "/services/test", app.Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = events.NewRecord(t.Context(), p.Events(), pingedType, &pinged{ID: "b", N: 2})
	if err == nil {
		t.Fatal("NewRecord with a wrong registry password succeeded")
	}
	if strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), user) {
		t.Errorf("the error shows the login: %v", err)
	}
}

// TestConsumerPrunesProcessed pins issue 14 finding 5: a running consumer
// forgets the processed event ids older than its retention on its own (at
// start, then hourly), and keeps the newer ones.
func TestConsumerPrunesProcessed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	kafka := apptest.Broker(t, map[string]int32{"pings": 1})
	db, err := sqldb.Open(ctx, filepath.Join(t.TempDir(), "prune.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	processed, err := sqldb.NewProcessed(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	noop := func(context.Context) error { return nil }
	if _, err := processed.Process(ctx, "old-event", noop); err != nil {
		t.Fatal(err)
	}
	kafka.ProcessedRetention = time.Nanosecond // everything recorded so far is "old"
	cons, err := app.NewConsumer(ctx, kafka, db, "pruner", []string{"pings"}, app.Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cons.Close)
	events.Handle(cons.Consumer, pingedType, func(context.Context, events.Envelope, *pinged) error { return nil })
	runCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- cons.Run(runCtx) }()
	apptest.Wait(t, 30*time.Second, "the old id to be pruned", func() (bool, error) {
		// A pruned id is processed again: Process reports done=false.
		done, err := processed.Process(ctx, "old-event", noop)
		return !done, err
	})
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
