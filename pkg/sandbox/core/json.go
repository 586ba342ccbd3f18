package core

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// JSONService is a service spoken over AWS JSON 1.0 or 1.1: a POST to "/" with
// X-Amz-Target: <TargetPrefix>.<Operation> and a JSON body.
type JSONService interface {
	// ServiceID is the lower-case id used for AWS_ENDPOINT_URL_<SERVICE>, for fault rules and for
	// records, for example "cloudhsmv2", "kms", "secretsmanager".
	ServiceID() string
	// TargetPrefix is the X-Amz-Target prefix, for example "BaldrApiService".
	TargetPrefix() string
	// JSONVersion is "1.0" or "1.1" (the Content-Type application/x-amz-json-<v>).
	JSONVersion() string
	// Operations maps each implemented operation name to its handler. An operation that is not in
	// the map is answered with UnknownOperationException, as AWS does.
	Operations() map[string]JSONOperation
}

// JSONProtocol is the identity a JSON service has on the wire. A service embeds it (made by
// NewJSONProtocol) for the ServiceID, TargetPrefix and JSONVersion methods of JSONService and
// implements only Operations itself.
type JSONProtocol struct{ id, targetPrefix, version string }

// NewJSONProtocol returns the identity of a service with the given id, X-Amz-Target prefix and
// JSON version ("1.0" or "1.1").
func NewJSONProtocol(serviceID, targetPrefix, jsonVersion string) JSONProtocol {
	return JSONProtocol{serviceID, targetPrefix, jsonVersion}
}

// ServiceID implements JSONService.
func (p JSONProtocol) ServiceID() string { return p.id }

// TargetPrefix implements JSONService.
func (p JSONProtocol) TargetPrefix() string { return p.targetPrefix }

// JSONVersion implements JSONService.
func (p JSONProtocol) JSONVersion() string { return p.version }

// JSONOperation decodes its own input and returns a value that encodes to the output shape, or an
// *Error (any other error becomes an InternalFailure 500).
type JSONOperation func(ctx context.Context, input json.RawMessage) (any, error)

// Decode unmarshals an operation's input, answering a malformed body as AWS does.
func Decode(input json.RawMessage, v any) error {
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	if err := json.Unmarshal(input, v); err != nil {
		return Errorf("SerializationException", "Could not parse request body: %v", err)
	}
	return nil
}

// Handler adapts an operation written against its decoded input to a JSONOperation: the body is
// decoded into a fresh I first, a malformed body answered as Decode does, so every operation of a
// service starts from its typed input instead of repeating the decoding.
func Handler[I any](op func(ctx context.Context, in I) (any, error)) JSONOperation {
	return func(ctx context.Context, input json.RawMessage) (any, error) {
		var in I
		if err := Decode(input, &in); err != nil {
			return nil, err
		}
		return op(ctx, in)
	}
}

// EpochTime is a timestamp as AWS JSON protocols send it: seconds since the epoch, a number with
// a fractional part.
type EpochTime time.Time

// MarshalJSON implements json.Marshaler.
func (t EpochTime) MarshalJSON() ([]byte, error) {
	tt := time.Time(t)
	secs := float64(tt.UnixNano()) / 1e9
	return []byte(strconv.FormatFloat(math.Round(secs*1000)/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON implements json.Unmarshaler; it accepts numbers and RFC 3339 strings.
func (t *EpochTime) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		sec, frac := math.Modf(f)
		*t = EpochTime(time.Unix(int64(sec), int64(frac*1e9)).UTC())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	tt, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = EpochTime(tt)
	return nil
}

// Epoch returns a pointer to t as an EpochTime, for optional output members.
func Epoch(t time.Time) *EpochTime { e := EpochTime(t); return &e }

// QueryCompatible is a JSON service whose model carries the awsQueryCompatible trait (SQS): its
// errors also name their Query protocol code, in the X-Amzn-Query-Error header of a JSON answer
// ("<code>;Sender", which the SDK reports as the error's code) and as the Code of a Query answer.
type QueryCompatible interface {
	// QueryErrorCode returns the Query code of the error shape code (the shape's awsQueryError
	// trait), code itself when the shape has none.
	QueryErrorCode(code string) string
}
