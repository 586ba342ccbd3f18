package cloudwatch

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// identity is how CloudWatch is addressed over the Query protocol, which AWS CLI v1 and older SDKs
// speak (signing name "monitoring").
var identity = core.NewQueryProtocol("cloudwatch", "monitoring", "http://monitoring.amazonaws.com/doc/2010-08-01/", core.QueryAWS)

var _ core.QueryService = (*Service)(nil)

// QueryOperations implements core.QueryService: the RPC v2 operations, their parameters read into
// the same generic members (queryInput) and their output written as Query XML (xmlValue).
func (s *Service) QueryOperations() map[string]core.QueryOperation {
	ops := map[string]core.QueryOperation{}
	for name, op := range s.RPCOperations() {
		ops[name] = func(ctx context.Context, p url.Values) (any, error) {
			out, err := op(ctx, queryInput(p))
			if err != nil || out == nil {
				return nil, err
			}
			return xmlValue{out}, nil
		}
	}
	return ops
}

// queryInput reads flattened Query parameters into generic members: "A.B" is member B of
// structure A, and "A.member.N" the N-th element of list A. Every value stays a string (the
// operations accept numbers and booleans as strings).
func queryInput(p url.Values) map[string]any {
	root := map[string]any{}
	for k, vs := range p {
		if k == "Action" || k == "Version" || len(vs) == 0 {
			continue
		}
		segs := strings.Split(k, ".")
		cur := root
		for _, s := range segs[:len(segs)-1] {
			next, ok := cur[s].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[s] = next
			}
			cur = next
		}
		cur[segs[len(segs)-1]] = vs[0]
	}
	return lists(root).(map[string]any)
}

// lists turns each structure whose only member is "member" into the list of its numbered elements.
func lists(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if members, ok := m["member"].(map[string]any); ok && len(m) == 1 {
		idx := make([]int, 0, len(members))
		for k := range members {
			if n, err := strconv.Atoi(k); err == nil {
				idx = append(idx, n)
			}
		}
		slices.Sort(idx)
		out := make([]any, 0, len(idx))
		for _, n := range idx {
			out = append(out, lists(members[strconv.Itoa(n)]))
		}
		return out
	}
	for k, e := range m {
		m[k] = lists(e)
	}
	return m
}

// xmlValue writes a generic output as Query XML: a structure's members as elements in name order,
// a list's elements as <member>, a timestamp in ISO 8601.
type xmlValue struct{ v any }

func (x xmlValue) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if m, ok := x.v.(map[string]any); ok {
		if err := writeMembers(e, m); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

func writeMembers(e *xml.Encoder, m map[string]any) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := writeXML(e, k, m[k]); err != nil {
			return err
		}
	}
	return nil
}

func writeXML(e *xml.Encoder, name string, v any) error {
	start := xml.StartElement{Name: xml.Name{Local: name}}
	var text string
	switch v := v.(type) {
	case nil:
		return nil
	case map[string]any:
		if err := e.EncodeToken(start); err != nil {
			return err
		}
		if err := writeMembers(e, v); err != nil {
			return err
		}
		return e.EncodeToken(start.End())
	case []any, []string:
		if err := e.EncodeToken(start); err != nil {
			return err
		}
		var items []any
		if l, ok := v.([]any); ok {
			items = l
		} else {
			for _, s := range v.([]string) {
				items = append(items, s)
			}
		}
		for _, it := range items {
			if err := writeXML(e, "member", it); err != nil {
				return err
			}
		}
		return e.EncodeToken(start.End())
	case time.Time:
		text = v.UTC().Format("2006-01-02T15:04:05.000Z")
	case float64:
		text = strconv.FormatFloat(v, 'f', -1, 64)
	default:
		text = fmt.Sprint(v)
	}
	return e.EncodeElement(text, start)
}
