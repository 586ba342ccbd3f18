package sandbox_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// The benchmarks measure one SDK round trip through the sandbox per protocol, and an in-process
// invocation through the LambdaInvoker port, so the HTTP overhead can be read off side by side.

func BenchmarkJSONCall(b *testing.B) {
	env := sandboxtest.New(b)
	client := eventbridge.NewFromConfig(env.AWSConfig())
	ctx := context.Background()
	for b.Loop() {
		if _, err := client.ListRules(ctx, &eventbridge.ListRulesInput{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQueryCall(b *testing.B) {
	env := sandboxtest.New(b)
	client := sts.NewFromConfig(env.AWSConfig())
	ctx := context.Background()
	for b.Loop() {
		if _, err := client.GetCallerIdentity(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLambdaInvokeHTTP(b *testing.B) {
	env := sandboxtest.New(b)
	if _, err := env.Lambda.RegisterHandler("echo", func(_ context.Context, p []byte) ([]byte, error) { return p, nil }); err != nil {
		b.Fatal(err)
	}
	client := lambda.NewFromConfig(env.AWSConfig())
	ctx := context.Background()
	in := &lambda.InvokeInput{FunctionName: aws.String("echo"), Payload: []byte(`{"k":"v"}`)}
	for b.Loop() {
		if _, err := client.Invoke(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLambdaInvokePort(b *testing.B) {
	env := sandboxtest.New(b)
	if _, err := env.Lambda.RegisterHandler("echo", func(_ context.Context, p []byte) ([]byte, error) { return p, nil }); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := env.Lambda.Invoke(ctx, "echo", []byte(`{"k":"v"}`)); err != nil {
			b.Fatal(err)
		}
	}
}
