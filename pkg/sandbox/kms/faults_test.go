package kms_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	hsmv2 "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	hsmtypes "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestInjectedFaultsAreTypedSDKErrors checks that the sandbox's injected faults reach the SDK as
// each service's own exception types, and that throttling is retried by the SDK's retryer.
func TestInjectedFaultsAreTypedSDKErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	add := func(f sandbox.Fault) {
		if _, err := e.srv.Faults.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	add(sandbox.Fault{Service: "cloudhsmv2", Operation: "DescribeClusters", Kind: sandbox.FaultInternal, Count: 1})
	_, err := e.hsmc.DescribeClusters(ctx, &hsmv2.DescribeClustersInput{})
	var hsmInternal *hsmtypes.CloudHsmInternalFailureException
	if !errors.As(err, &hsmInternal) {
		t.Fatalf("CloudHSM internal fault: %v", err)
	}
	add(sandbox.Fault{Service: "kms", Operation: "ListKeys", Kind: sandbox.FaultInternal, Count: 1})
	_, err = e.kmsc.ListKeys(ctx, &awskms.ListKeysInput{})
	var kmsInternal *kmstypes.KMSInternalException
	if !errors.As(err, &kmsInternal) {
		t.Fatalf("KMS internal fault: %v", err)
	}
	add(sandbox.Fault{Service: "ssm", Operation: "ListCommands", Kind: sandbox.FaultInternal, Count: 1})
	_, err = e.ssmc.ListCommands(ctx, &awsssm.ListCommandsInput{})
	var ssmInternal *ssmtypes.InternalServerError
	if !errors.As(err, &ssmInternal) {
		t.Fatalf("SSM internal fault: %v", err)
	}
	// Throttled twice, then served: the SDK's standard retryer (3 attempts) gets through.
	add(sandbox.Fault{Service: "kms", Operation: "DescribeCustomKeyStores", Kind: sandbox.FaultThrottle, Count: 2})
	retrying := awskms.New(awskms.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL()), Credentials: e.kmsc.Options().Credentials, HTTPClient: sandboxtest.HTTPClient})
	if _, err := retrying.DescribeCustomKeyStores(ctx, &awskms.DescribeCustomKeyStoresInput{}); err != nil {
		t.Fatalf("throttled twice with retries: %v", err)
	}
	if n := e.srv.Recorder.Count("kms", "DescribeCustomKeyStores"); n != 3 {
		t.Fatalf("recorded %d DescribeCustomKeyStores calls, want 3", n)
	}
}
