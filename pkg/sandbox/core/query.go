package core

import (
	"context"
	"net/url"
)

// QueryFlavor tells the two dialects of the AWS Query protocol apart.
type QueryFlavor int

const (
	// QueryAWS is the Query protocol of SNS, STS and CloudFormation: the response is
	// <OpResponse xmlns=NS><OpResult>…</OpResult><ResponseMetadata><RequestId/></ResponseMetadata></OpResponse>
	// and errors are <ErrorResponse><Error><Type>Sender</Type><Code/><Message/></Error><RequestId/></ErrorResponse>.
	QueryAWS QueryFlavor = iota
	// QueryEC2 is EC2's dialect: <OpResponse xmlns=NS><requestId/>…</OpResponse> with no Result wrapper,
	// and errors are <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>.
	QueryEC2
)

// QueryService is a service spoken over a form-encoded POST (Action=<Op>&Version=<v>&…) answered in
// XML. The server tells services apart by the SigV4 credential scope's service name (SigningName).
type QueryService interface {
	// ServiceID is the id used for AWS_ENDPOINT_URL_<SERVICE>, fault rules and records ("sns", "sts", "ec2").
	ServiceID() string
	// SigningName is the SigV4 service name in the Authorization header's credential scope.
	SigningName() string
	// XMLNamespace is the response's xmlns, for example "http://sns.amazonaws.com/doc/2010-03-31/".
	XMLNamespace() string
	Flavor() QueryFlavor
	// QueryOperations maps each implemented Action to its handler.
	QueryOperations() map[string]QueryOperation
}

// QueryOperation reads its parameters and returns a value that encoding/xml marshals as the
// content of the <OpResult> element (QueryAWS) or of the <OpResponse> element (QueryEC2), or an
// *Error.
type QueryOperation func(ctx context.Context, params url.Values) (any, error)
