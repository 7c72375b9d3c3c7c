package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProduceCheck decides whether a produced record may be written: nil
// accepts it, an error refuses it (the error text goes back to the
// producer). The record holds Topic, Partition, Key, Value and Headers.
type ProduceCheck func(rec *kgo.Record) error

// WithProduceCheck makes the broker run check on every record of every
// produce request before writing anything, overriding the default of
// accepting every record. A request holding a refused record is refused as
// a whole: each of its partitions answers INVALID_RECORD with the reason,
// so producers see the error (franz-go and librdkafka do not retry it).
// Requests with acks=0 expect no answer and are not checked.
func WithProduceCheck(check ProduceCheck) Option {
	return func(c *config) {
		if check == nil {
			c.errs = append(c.errs, errors.New("nil produce check"))
			return
		}
		c.check = check
	}
}

// checkProduce is the control function of produce requests under a
// [ProduceCheck].
func (b *Broker) checkProduce(check ProduceCheck) func(kmsg.Request) (kmsg.Response, error, bool) {
	dec := kgo.DefaultDecompressor()
	return func(req kmsg.Request) (kmsg.Response, error, bool) {
		pr, ok := req.(*kmsg.ProduceRequest)
		if !ok || pr.Acks == 0 {
			return nil, nil, false
		}
		var reason error
	topics:
		for _, t := range pr.Topics {
			topic := t.Topic
			if topic == "" { // produce v13+ names topics by id
				// Safe here: kfake serves admin calls while a control
				// function runs.
				if info := b.cluster.TopicIDInfo(t.TopicID); info != nil {
					topic = info.Topic
				}
			}
			for _, p := range t.Partitions {
				if err := eachRecord(dec, p.Records, func(r *kgo.Record) error {
					r.Topic, r.Partition = topic, p.Partition
					return check(r)
				}); err != nil {
					reason = fmt.Errorf("%s/%d: %w", topic, p.Partition, err)
					break topics
				}
			}
		}
		if reason == nil {
			return nil, nil, false
		}
		b.cluster.KeepControl()
		b.log.Warn("embedded broker: produce refused", "reason", reason.Error())
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		msg := reason.Error()
		for _, t := range pr.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.InvalidRecord.Code
				rp.ErrorMessage = &msg
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	}
}

// eachRecord calls fn with each record of the record batches in raw.
func eachRecord(dec kgo.Decompressor, raw []byte, fn func(*kgo.Record) error) error {
	for len(raw) > 0 {
		if len(raw) < 12 {
			return errors.New("truncated record batch")
		}
		n := 12 + int(int32(binary.BigEndian.Uint32(raw[8:12])))
		if n < 12 || n > len(raw) {
			return errors.New("bad record batch length")
		}
		var batch kmsg.RecordBatch
		if err := batch.ReadFrom(raw[:n]); err != nil {
			return fmt.Errorf("read record batch: %w", err)
		}
		raw = raw[n:]
		if batch.Magic != 2 {
			return fmt.Errorf("record batch magic %d: only v2 batches are checked", batch.Magic)
		}
		recs, err := dec.Decompress(batch.Records, kgo.CompressionCodecType(batch.Attributes&0x07))
		if err != nil {
			return fmt.Errorf("decompress record batch: %w", err)
		}
		for range batch.NumRecords {
			length, m := binary.Varint(recs)
			if m <= 0 || length < 0 || int64(len(recs)-m) < length {
				return errors.New("bad record length")
			}
			var kr kmsg.Record
			if err := kr.ReadFrom(recs[:m+int(length)]); err != nil {
				return fmt.Errorf("read record: %w", err)
			}
			recs = recs[m+int(length):]
			r := &kgo.Record{Key: kr.Key, Value: kr.Value}
			for _, h := range kr.Headers {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
			}
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}
