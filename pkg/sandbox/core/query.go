package core

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
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

// QueryProtocol is the identity a Query service has on the wire. A service embeds it (made by
// NewQueryProtocol) for the ServiceID, SigningName, XMLNamespace and Flavor methods of
// QueryService and implements only QueryOperations itself.
type QueryProtocol struct {
	id, signingName, namespace string
	flavor                     QueryFlavor
}

// NewQueryProtocol returns the identity of a service with the given id, SigV4 signing name,
// response namespace and dialect.
func NewQueryProtocol(serviceID, signingName, xmlNamespace string, flavor QueryFlavor) QueryProtocol {
	return QueryProtocol{serviceID, signingName, xmlNamespace, flavor}
}

// ServiceID implements QueryService.
func (p QueryProtocol) ServiceID() string { return p.id }

// SigningName implements QueryService.
func (p QueryProtocol) SigningName() string { return p.signingName }

// XMLNamespace implements QueryService.
func (p QueryProtocol) XMLNamespace() string { return p.namespace }

// Flavor implements QueryService.
func (p QueryProtocol) Flavor() QueryFlavor { return p.flavor }

// QueryOperation reads its parameters and returns a value that encoding/xml marshals as the
// content of the <OpResult> element (QueryAWS) or of the <OpResponse> element (QueryEC2), or an
// *Error.
type QueryOperation func(ctx context.Context, params url.Values) (any, error)

// QueryList splits the members of a flattened Query-protocol list: for prefix "IpPermissions",
// the keys "IpPermissions.2.FromPort" and "IpPermissions.2.IpRanges.1.CidrIp" become the second
// element's url.Values {"FromPort", "IpRanges.1.CidrIp"}, and a scalar list's "SubnetId.2" the
// second element's {"": ...}. SNS lists and maps name their elements "<name>.member.N" and
// "<name>.entry.N", so their prefix ends in ".member" or ".entry". Elements come back in index
// order; a key whose index is not a positive number is no element.
func QueryList(params url.Values, prefix string) []url.Values {
	byIdx := map[int]url.Values{}
	for k, vs := range params {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		idxStr, member, _ := strings.Cut(rest, ".")
		idx, err := strconv.Atoi(idxStr)
		if err != nil || idx < 1 {
			continue
		}
		if byIdx[idx] == nil {
			byIdx[idx] = url.Values{}
		}
		byIdx[idx][member] = vs
	}
	idxs := make([]int, 0, len(byIdx))
	for i := range byIdx {
		idxs = append(idxs, i)
	}
	slices.Sort(idxs)
	out := make([]url.Values, 0, len(idxs))
	for _, i := range idxs {
		out = append(out, byIdx[i])
	}
	return out
}
