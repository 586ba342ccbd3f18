// Package sts emulates the one AWS Security Token Service operation Strongroom uses,
// GetCallerIdentity, over the Query protocol.
//
// Differences from AWS: every caller is the same IAM user (arn:aws:iam::<account>:user/sandbox),
// whatever access key signed the request, because the sandbox does not verify signatures.
package sts

import (
	"context"
	"net/url"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Service is the emulated STS.
type Service struct {
	core.QueryProtocol
	account string
}

// New returns STS answering as an IAM user in account.
func New(account string) *Service {
	return &Service{QueryProtocol: identity, account: account}
}

// identity is how STS is addressed on the wire.
var identity = core.NewQueryProtocol("sts", "sts", "https://sts.amazonaws.com/doc/2011-06-15/", core.QueryAWS)

var _ core.QueryService = (*Service)(nil)

// QueryOperations implements core.QueryService.
func (s *Service) QueryOperations() map[string]core.QueryOperation {
	return map[string]core.QueryOperation{"GetCallerIdentity": s.getCallerIdentity}
}

// CallerIdentity is the GetCallerIdentityResult shape.
type CallerIdentity struct {
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
	Arn     string `xml:"Arn"`
}

func (s *Service) getCallerIdentity(_ context.Context, _ url.Values) (any, error) {
	return CallerIdentity{
		UserID:  "AIDASANDBOXUSER000001",
		Account: s.account,
		Arn:     "arn:aws:iam::" + s.account + ":user/sandbox",
	}, nil
}
