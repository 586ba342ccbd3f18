// Command whoami is a test Lambda function: it asks STS who it is through the endpoint the
// sandbox put in its environment (AWS_ENDPOINT_URL), or fails with a named error type; it first
// prints the event's say, if any, to its standard output (its log).
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

type event struct {
	Fail string `json:"fail"`
	Say  string `json:"say"`
}

// RefusedError is a named error type: its name is the errorType Lambda reports.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

func handle(ctx context.Context, in event) (map[string]string, error) {
	if in.Say != "" {
		fmt.Println(in.Say)
	}
	if in.Fail != "" {
		return nil, &RefusedError{Reason: in.Fail}
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, fmt.Errorf("get caller identity: %w", err)
	}
	return map[string]string{"account": *out.Account, "arn": *out.Arn}, nil
}

func main() { lambda.Start(handle) }
