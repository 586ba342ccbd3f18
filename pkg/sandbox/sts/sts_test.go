package sts_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

func TestGetCallerIdentity(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, 10*time.Second)
	out, err := sts.NewFromConfig(env.AWSConfig()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if got, want := *out.Account, env.Account; got != want {
		t.Errorf("Account = %q, want %q", got, want)
	}
	if got, want := *out.Arn, "arn:aws:iam::"+env.Account+":user/sandbox"; got != want {
		t.Errorf("Arn = %q, want %q", got, want)
	}
	if out.UserId == nil || *out.UserId == "" {
		t.Error("UserId is empty")
	}
	recs := env.Recorder.Records("sts", "GetCallerIdentity")
	if len(recs) != 1 || recs[0].Status != 200 || recs[0].Protocol != "query" {
		t.Fatalf("records = %+v, want one query call answered 200", recs)
	}
}
