package core

import "context"

// RPCv2Service is a service spoken over Smithy RPC v2 CBOR, as recent aws-sdk-go-v2 clients speak
// CloudWatch: POST /service/<ServiceName>/operation/<Operation> with a CBOR body and the header
// Smithy-Protocol: rpc-v2-cbor, answered in CBOR. The server decodes each request into generic
// values and encodes each answer (RPCOperation says which), so a service sees no CBOR.
type RPCv2Service interface {
	// ServiceID is the id used for AWS_ENDPOINT_URL_<SERVICE>, fault rules and records ("cloudwatch").
	ServiceID() string
	// ServiceName is the Smithy service shape's name in the request path, for example
	// "GraniteServiceVersion20100801" for CloudWatch.
	ServiceName() string
	// RPCOperations maps each implemented operation to its handler.
	RPCOperations() map[string]RPCOperation
}

// RPCOperation handles one RPC v2 operation. in holds the request's members as generic values:
// map[string]any for a structure or map, []any for a list, string, int64 for an integer, float64
// for a floating-point number, bool, time.Time for a timestamp and []byte for a blob. The result is
// encoded the same way back (nil for an empty output); a struct is encoded by its exported fields'
// json names, omitting zero values tagged omitempty.
type RPCOperation func(ctx context.Context, in map[string]any) (any, error)
