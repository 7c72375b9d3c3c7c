package breaking

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"

	"github.com/keiyaku/keiyaku/tools/internal/asyncapi"
	"github.com/keiyaku/keiyaku/tools/internal/config"
	"github.com/keiyaku/keiyaku/tools/internal/report"
)

// The AsyncAPI rule ids.
const (
	RuleChannelRemoved        = "channel-removed"
	RuleChannelAddressChanged = "channel-address-changed"
	RuleOperationRemoved      = "operation-removed"
	RuleMessageRemoved        = "message-removed"
	RuleMessageAdded          = "message-added"
	RuleMessagePayloadChanged = "message-payload-type-changed"
	RuleMessageKeyChanged     = "message-key-changed"
	RulePartitionsChanged     = "channel-partitions-changed"
)

// AsyncAPI compares each module's asyncapi.yaml in cur with base. What a
// receive side depends on may not go: a channel, a send operation or a
// message removed, a topic address or a key schema changed, a payload
// swapped for another record are errors. A payload's own changes are
// judged by the Avro rules (Avro), not here, so that adding an optional
// field is not "breaking"; so is an Avro payload replaced by another
// record, since under TopicNameStrategy the subject stays and an alias
// makes the rename compatible. A new message type on an existing channel is a
// warning: consumers built before it must skip it.
func AsyncAPI(ctx context.Context, cfg *config.Config, cur, base fs.FS) ([]report.Finding, error) {
	var findings []report.Finding
	for _, m := range cfg.Modules {
		baseFile, file := m.AsyncAPIDocFS(base), m.AsyncAPIDocFS(cur)
		if _, err := fs.Stat(base, baseFile); baseFile == "" || err != nil {
			continue // new (or never) an AsyncAPI contract: nothing to break
		}
		b, err := asyncapi.LoadFS(ctx, base, baseFile)
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		if _, err := fs.Stat(cur, file); file == "" || err != nil {
			findings = append(findings, finding(RuleContractRemoved, report.Error, asyncapi.Pos{File: baseFile},
				"the AsyncAPI contract is gone: its senders and receivers lose their channels"))
			continue
		}
		c, err := asyncapi.LoadFS(ctx, cur, file)
		if err != nil {
			return nil, err
		}
		findings = append(findings, compareDocs(b, c)...)
	}
	return findings, nil
}

func finding(rule string, sev report.Severity, at asyncapi.Pos, msg string) report.Finding {
	return report.Finding{Rule: rule, Severity: sev, Format: report.FormatAsyncAPI, File: at.File, Line: at.Line, Column: at.Column, Message: msg}
}

// compareDocs compares two versions of one AsyncAPI document.
func compareDocs(base, cur *asyncapi.Document) []report.Finding {
	var findings []report.Finding
	curOps := map[string]*asyncapi.Operation{}
	for _, op := range cur.Operations {
		curOps[op.Name] = op
	}
	for _, op := range base.Operations {
		now, ok := curOps[op.Name]
		if !ok {
			sev, why := report.Error, "its receivers stop getting "+messageNames(op.Messages)
			if op.Action == asyncapi.Receive {
				sev, why = report.Warning, "this service stops consuming "+messageNames(op.Messages)
			}
			findings = append(findings, finding(RuleOperationRemoved, sev, cur.Info.Pos,
				fmt.Sprintf("%s operation %s on %s was removed: %s", op.Action, op.Name, op.Channel.Address, why)))
			continue
		}
		findings = append(findings, compareChannels(op, now)...)
	}
	return dedupe(findings)
}

// compareChannels compares the channel and messages of one operation in
// two versions.
func compareChannels(base, cur *asyncapi.Operation) []report.Finding {
	var findings []report.Finding
	bc, cc := base.Channel, cur.Channel
	if bc.Address != cc.Address {
		findings = append(findings, finding(RuleChannelAddressChanged, report.Error, cc.Pos,
			fmt.Sprintf("channel %s moved from topic %s to %s: consumers subscribed to %s stop receiving; publish to both, or add a new channel", cc.Name, bc.Address, cc.Address, bc.Address)))
	}
	if bc.Kafka != nil && cc.Kafka != nil && bc.Kafka.Partitions != 0 && cc.Kafka.Partitions != 0 && bc.Kafka.Partitions != cc.Kafka.Partitions {
		findings = append(findings, finding(RulePartitionsChanged, report.Warning, cc.Pos,
			fmt.Sprintf("topic %s goes from %d to %d partitions: keys move to other partitions, so order per key is not kept across the change", cc.Address, bc.Kafka.Partitions, cc.Kafka.Partitions)))
	}
	for _, bm := range bc.Messages {
		cm := messageNamed(cc.Messages, bm.Name)
		if cm == nil {
			sev := report.Error
			findings = append(findings, finding(RuleMessageRemoved, sev, cc.Pos,
				fmt.Sprintf("message %s was removed from channel %s (topic %s): receivers that handle it break", bm.Name, cc.Name, cc.Address)))
			continue
		}
		// An Avro payload swapped for another Avro record is judged by
		// the subject it is registered under (Avro): an alias can make
		// it compatible.
		if bn, cn := payloadName(bm), payloadName(cm); bn != cn && !(isAvro(bm.Payload) && isAvro(cm.Payload)) {
			findings = append(findings, finding(RuleMessagePayloadChanged, report.Error, cm.Pos,
				fmt.Sprintf("message %s now carries %s instead of %s: readers of %s cannot resolve it; publish a new message type instead", cm.Name, cn, bn, bn)))
		}
		if !sameSchema(bm.Key, cm.Key) {
			msg := fmt.Sprintf("message %s has a new Kafka key schema: partitioning and order per key change, and consumers that read the key break", cm.Name)
			if isAvro(bm.Key) && isAvro(cm.Key) {
				// Whether readers of the key can still decode it is judged
				// on the key's own subject (Avro), with a counterexample.
				msg = fmt.Sprintf("message %s has a new version of its Avro record key %s: a key carries its writer schema (fingerprint or registry id), so the same key written before and after the change has other bytes and goes to another partition, and order per key is not kept across it; readers of the key are judged on its subject", cm.Name, cm.Key.Avro.Name)
			}
			findings = append(findings, finding(RuleMessageKeyChanged, report.Error, cm.Pos, msg))
		}
	}
	for _, cm := range cc.Messages {
		if messageNamed(bc.Messages, cm.Name) == nil {
			findings = append(findings, finding(RuleMessageAdded, report.Warning, cm.Pos,
				fmt.Sprintf("message %s is new on channel %s (topic %s): consumers built before it must skip it (Keiyaku's consumers commit unknown ce_type and move on)", cm.Name, cc.Name, cc.Address)))
		}
	}
	return findings
}

func messageNamed(msgs []*asyncapi.Message, name string) *asyncapi.Message {
	for _, m := range msgs {
		if m.Name == name {
			return m
		}
	}
	return nil
}

func messageNames(msgs []*asyncapi.Message) string {
	var b bytes.Buffer
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(m.Name)
	}
	return b.String()
}

func payloadName(m *asyncapi.Message) string {
	if m.Payload != nil && m.Payload.Avro != nil {
		return m.Payload.Avro.Name
	}
	return "a non-Avro payload"
}

func isAvro(s *asyncapi.Schema) bool { return s != nil && s.Avro != nil }

func sameSchema(a, b *asyncapi.Schema) bool {
	switch {
	case a == nil || b == nil:
		return a == b
	case a.AvroType != nil || b.AvroType != nil:
		return a.AvroCanonical == b.AvroCanonical
	}
	return bytes.Equal(a.JSON, b.JSON)
}

// dedupe drops repeated findings: a channel shared by several operations
// is compared once per operation.
func dedupe(findings []report.Finding) []report.Finding {
	seen := map[string]bool{}
	out := findings[:0]
	for _, f := range findings {
		if k := f.String(); !seen[k] {
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}
