package sandbox

import (
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/strongroom/strongroom/pkg/sandbox/authz"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// rpcv2Path is the path prefix of Smithy RPC v2 requests: /service/<ServiceName>/operation/<Op>.
const rpcv2Path = "/service/"

// isRPCv2 reports whether r is a Smithy RPC v2 CBOR request (the Smithy-Protocol header the
// protocol requires of every request).
func isRPCv2(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor" && strings.HasPrefix(r.URL.Path, rpcv2Path)
}

// serveRPCv2 answers a Smithy RPC v2 CBOR request. Errors are CBOR maps with __type and message;
// a service that is awsQueryCompatible (CloudWatch) also names the Query error code in the
// X-Amzn-Query-Error header ("<Code>;Sender"), which the SDK prefers to __type.
func (s *Server) serveRPCv2(c *call) {
	c.protocol = "rpcv2"
	svcName, op, _ := strings.Cut(strings.TrimPrefix(c.r.URL.Path, rpcv2Path), "/operation/")
	c.operation = op
	s.mu.RLock()
	svc, ok := s.rpc[svcName]
	s.mu.RUnlock()
	if ok {
		c.service = svc.ServiceID()
	} else {
		c.service = "unknown"
	}
	if _, err := signingService(c.r); err != nil {
		c.writeRPCv2Error(err)
		return
	}
	var handler core.RPCOperation
	if ok {
		handler = svc.RPCOperations()[op]
	}
	if handler == nil {
		c.writeRPCv2Error(core.StatusErrorf(http.StatusNotFound, "UnknownOperationException", "Unknown operation %s of service %s", op, svcName))
		return
	}
	in := map[string]any{}
	if len(c.body) > 0 {
		v, err := cbor.Decode(c.body)
		if err != nil {
			c.writeRPCv2Error(core.Errorf("SerializationException", "The request body is not valid CBOR: %v", err))
			return
		}
		m, isMap := fromCBOR(v).(map[string]any)
		if !isMap {
			c.writeRPCv2Error(core.Errorf("SerializationException", "The request body must be a CBOR map of the operation's input members."))
			return
		}
		in = m
	}
	c.writeError = c.writeRPCv2Error
	if ferr := c.applyFaults(svc); ferr != nil {
		c.writeRPCv2Error(ferr)
		return
	}
	if derr := c.authorize(func() authz.Request { return authz.Request{JSON: in} }); derr != nil {
		c.writeRPCv2Error(derr)
		return
	}
	out, err := handler(c.r.Context(), in)
	if err != nil {
		c.writeRPCv2Error(asCoreError(err))
		return
	}
	v, err := toCBOR(reflect.ValueOf(out))
	if err != nil {
		c.writeRPCv2Error(asCoreError(fmt.Errorf("encode %s output: %w", op, err)))
		return
	}
	if v == nil {
		v = cbor.Map{}
	}
	c.w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	c.writeRaw(http.StatusOK, "application/cbor", cbor.Encode(v), "")
}

func (c *call) writeRPCv2Error(e *core.Error) {
	m := cbor.Map{"__type": cbor.String(e.Code), "message": cbor.String(e.Message)}
	for k, v := range e.Fields {
		m[k] = cbor.String(fmt.Sprint(v))
	}
	c.w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
	c.w.Header().Set("X-Amzn-Query-Error", e.Code+";"+faultKind(e))
	c.writeRaw(e.Status, "application/cbor", cbor.Encode(m), e.Code)
}

// fromCBOR turns a decoded CBOR value into core.RPCOperation's generic values. Tag 1 (epoch
// seconds) is a timestamp; other tags are their content.
func fromCBOR(v cbor.Value) any {
	switch v := v.(type) {
	case cbor.Uint:
		if v > math.MaxInt64 {
			return float64(v)
		}
		return int64(v)
	case cbor.NegInt:
		if v > math.MaxInt64 {
			return -float64(v)
		}
		return -int64(v)
	case cbor.Float32:
		return float64(v)
	case cbor.Float64:
		return float64(v)
	case cbor.String:
		return string(v)
	case cbor.Slice:
		return []byte(v)
	case cbor.Bool:
		return bool(v)
	case cbor.List:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = fromCBOR(e)
		}
		return out
	case cbor.Map:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = fromCBOR(e)
		}
		return out
	case *cbor.Tag:
		if v.ID == 1 {
			if t, err := cbor.AsTime(v); err == nil {
				return t
			}
		}
		return fromCBOR(v.Value)
	}
	return nil // Nil, Undefined
}

var timeType = reflect.TypeFor[time.Time]()

// toCBOR encodes a generic value (core.RPCOperation): maps with string keys, slices, structs by
// their json field names, strings, integers, floats, bools, []byte and time.Time (tag 1, epoch
// seconds). A nil pointer, interface, map or slice is absent (nil).
func toCBOR(v reflect.Value) (cbor.Value, error) {
	if !v.IsValid() {
		return nil, nil
	}
	if v.Type() == timeType {
		t := v.Interface().(time.Time)
		return &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t.UnixMilli()) / 1000)}, nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, nil
		}
		return toCBOR(v.Elem())
	case reflect.String:
		return cbor.String(v.String()), nil
	case reflect.Bool:
		return cbor.Bool(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n := v.Int(); n < 0 {
			return cbor.NegInt(uint64(-n)), nil
		}
		return cbor.Uint(uint64(v.Int())), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return cbor.Uint(v.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return cbor.Float64(v.Float()), nil
	case reflect.Slice:
		if v.IsNil() {
			return nil, nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return cbor.Slice(v.Bytes()), nil
		}
		fallthrough
	case reflect.Array:
		out := make(cbor.List, 0, v.Len())
		for i := range v.Len() {
			e, err := toCBOR(v.Index(i))
			if err != nil {
				return nil, err
			}
			if e == nil {
				e = &cbor.Nil{}
			}
			out = append(out, e)
		}
		return out, nil
	case reflect.Map:
		if v.IsNil() {
			return nil, nil
		}
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("a map with %s keys has no CBOR form here", v.Type().Key())
		}
		out := cbor.Map{}
		for it := v.MapRange(); it.Next(); {
			e, err := toCBOR(it.Value())
			if err != nil {
				return nil, err
			}
			if e != nil {
				out[it.Key().String()] = e
			}
		}
		return out, nil
	case reflect.Struct:
		out := cbor.Map{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			e, err := toCBOR(fv)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			if e != nil {
				out[name] = e
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s has no CBOR form here", v.Type())
}
