// Package subjects names the Schema Registry subjects of the Avro records
// a Kafka channel carries, by Confluent's subject name strategies and the
// strategy keiyaku.yaml configures (breaking.avro.strategy, strategies).
// It is the one place these names are made: the breaking gate checks the
// schemas under them, and the generator writes them into the generated
// event types (events.Type Subject and KeySubject), under which producers
// register their writer schemas.
package subjects

import (
	"slices"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/config"
)

// The parts of a Kafka record whose schema is a subject.
const (
	Value = "value"
	Key   = "key"
)

// Names are the subjects of one message of a channel.
type Names struct {
	// Strategy is the subject name strategy of the channel.
	Strategy string
	// Value is the subject of the payload, Key the one of the Kafka key;
	// each is empty when that part is not an Avro record.
	Value, Key string
}

// Strategy returns the subject name strategy of channel ch of the module
// at modulePath: the one p configures for the channel or the module, else
// TopicNameStrategy for a channel whose payloads are one Avro record type
// and TopicRecordNameStrategy for one whose payloads are several, the only
// strategy Schema Registry accepts several record types on one topic with.
func Strategy(p config.AvroPolicy, modulePath string, ch *asyncapi.Channel) string {
	if s := p.SubjectStrategy(modulePath, ch.Address); s != "" {
		return s
	}
	var records []string
	for _, msg := range ch.Messages {
		if msg.Payload != nil && msg.Payload.Avro != nil && !slices.Contains(records, msg.Payload.Avro.Name) {
			records = append(records, msg.Payload.Avro.Name)
		}
	}
	if len(records) > 1 {
		return config.TopicRecordNameStrategy
	}
	return config.TopicNameStrategy
}

// Name names the subject of the record with full name record sent on
// topic as its part (Value or Key), by strategy: "<topic>-value" or
// "<topic>-key" (TopicNameStrategy, and any unknown strategy, which config
// validation refuses), "<record>" (RecordNameStrategy) or
// "<topic>-<record>" (TopicRecordNameStrategy).
func Name(strategy, topic, part, record string) string {
	switch strategy {
	case config.RecordNameStrategy:
		return record
	case config.TopicRecordNameStrategy:
		return topic + "-" + record
	}
	return topic + "-" + part
}

// Of returns the subjects of message msg of channel ch, in the module at
// modulePath.
func Of(p config.AvroPolicy, modulePath string, ch *asyncapi.Channel, msg *asyncapi.Message) Names {
	n := Names{Strategy: Strategy(p, modulePath, ch)}
	if msg.Payload != nil && msg.Payload.Avro != nil {
		n.Value = Name(n.Strategy, ch.Address, Value, msg.Payload.Avro.Name)
	}
	if msg.Key != nil && msg.Key.Avro != nil {
		n.Key = Name(n.Strategy, ch.Address, Key, msg.Key.Avro.Name)
	}
	return n
}
