package sqs

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Query is SQS over the Query protocol (signing name "sqs"), as the AWS CLI v2 that Debian ships
// speaks it: each Action's flattened parameters are read into the JSON operation's input, and its
// output written as SQS's XML (flattened Attribute, MessageAttribute, Message and QueueUrl lists).
type Query struct {
	core.QueryProtocol
	*Service
}

// NewQuery returns the Query protocol face of s.
func NewQuery(s *Service) *Query {
	return &Query{QueryProtocol: core.NewQueryProtocol("sqs", "sqs", "http://queue.amazonaws.com/doc/2012-11-05/", core.QueryAWS), Service: s}
}

// ServiceID implements core.QueryService (both faces are the service "sqs").
func (q *Query) ServiceID() string { return q.QueryProtocol.ServiceID() }

var (
	_ core.QueryService    = (*Query)(nil)
	_ core.QueryCompatible = (*Query)(nil)
)

// QueryOperations implements core.QueryService.
func (q *Query) QueryOperations() map[string]core.QueryOperation {
	ops := map[string]core.QueryOperation{}
	for name, op := range q.Operations() {
		ops[name] = func(ctx context.Context, p url.Values) (any, error) {
			in, err := json.Marshal(queryInput(p))
			if err != nil {
				return nil, err
			}
			out, err := op(ctx, in)
			if err != nil || out == nil {
				return nil, err
			}
			b, err := json.Marshal(out)
			if err != nil {
				return nil, err
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, err
			}
			return xmlOut(m), nil
		}
	}
	return ops
}

// intParams are the parameters the JSON input takes as numbers.
var intParams = []string{"DelaySeconds", "MaxResults", "MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds"}

// queryInput reads SQS's flattened Query parameters into the JSON input's members.
func queryInput(p url.Values) map[string]any {
	in := map[string]any{}
	for _, k := range []string{"QueueUrl", "QueueName", "QueueOwnerAWSAccountId", "QueueNamePrefix", "NextToken", "MessageBody", "ReceiptHandle"} {
		if v, ok := p[k]; ok && len(v) > 0 {
			in[k] = v[0]
		}
	}
	for _, k := range intParams {
		if n, err := strconv.Atoi(p.Get(k)); err == nil {
			in[k] = n
		}
	}
	pairs := func(prefix, key, value string) map[string]string {
		out := map[string]string{}
		for _, e := range core.QueryList(p, prefix) {
			out[e.Get(key)] = e.Get(value)
		}
		return out
	}
	if attrs := pairs("Attribute", "Name", "Value"); len(attrs) > 0 {
		in["Attributes"] = attrs
	}
	if tags := pairs("Tag", "Key", "Value"); len(tags) > 0 {
		in["tags"] = tags
	}
	for _, list := range []string{"AttributeName", "MessageAttributeName", "MessageSystemAttributeName"} {
		var names []string
		for _, e := range core.QueryList(p, list) {
			names = append(names, e.Get(""))
		}
		if len(names) > 0 {
			in[list+"s"] = names
		}
	}
	if ma := core.QueryList(p, "MessageAttribute"); len(ma) > 0 {
		attrs := map[string]any{}
		for _, e := range ma {
			v := map[string]any{"DataType": e.Get("Value.DataType")}
			if sv, ok := e["Value.StringValue"]; ok {
				v["StringValue"] = sv[0]
			}
			if bv, ok := e["Value.BinaryValue"]; ok {
				v["BinaryValue"] = bv[0] // base64 on both protocols
			}
			attrs[e.Get("Name")] = v
		}
		in["MessageAttributes"] = attrs
	}
	return in
}

// xmlOut writes a JSON output as SQS's Query XML.
type xmlOut map[string]any

// flattened names the element each JSON list or map member becomes, repeated once per entry.
var flattened = map[string]string{
	"Attributes": "Attribute", "MessageAttributes": "MessageAttribute", "Messages": "Message", "QueueUrls": "QueueUrl",
}

func (x xmlOut) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := writeMembers(e, x); err != nil {
		return err
	}
	return e.EncodeToken(start.End())
}

func writeMembers(e *xml.Encoder, m map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		name, flat := flattened[k]
		if !flat {
			name = k
		}
		switch v := m[k].(type) {
		case []any:
			for _, it := range v {
				if err := writeValue(e, name, it); err != nil {
					return err
				}
			}
		case map[string]any:
			if !flat {
				if err := writeValue(e, name, v); err != nil {
					return err
				}
				continue
			}
			for _, n := range slices.Sorted(maps.Keys(v)) {
				if err := writeValue(e, name, map[string]any{"Name": n, "Value": v[n]}); err != nil {
					return err
				}
			}
		default:
			if err := writeValue(e, name, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func writeValue(e *xml.Encoder, name string, v any) error {
	start := xml.StartElement{Name: xml.Name{Local: name}}
	switch v := v.(type) {
	case map[string]any:
		if err := e.EncodeToken(start); err != nil {
			return err
		}
		// Name before Value, as SQS writes an entry; other members in name order.
		if n, ok := v["Name"]; ok {
			if err := writeValue(e, "Name", n); err != nil {
				return err
			}
			rest := maps.Clone(v)
			delete(rest, "Name")
			v = rest
		}
		if err := writeMembers(e, v); err != nil {
			return err
		}
		return e.EncodeToken(start.End())
	case nil:
		return nil
	case string:
		return e.EncodeElement(v, start)
	default:
		return e.EncodeElement(fmt.Sprint(v), start)
	}
}
