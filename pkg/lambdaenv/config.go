package lambdaenv

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// ErrIncomplete marks an environment that lacks a region or credentials.
var ErrIncomplete = errors.New("incomplete Lambda environment")

// Config builds the AWS SDK configuration of a Lambda function from the environment the Lambda
// service gives every function: AWS_REGION and the execution role's AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, plus AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE> (how the sandbox, or a VPC endpoint override, is reached).
//
// It is hand-written instead of config.LoadDefaultConfig for cold starts: aws-sdk-go-v2/config's
// package initialisation pulls in the STS, SSO, SSO-OIDC and sign-in clients, about a millisecond
// of every cold start (measured by BenchmarkColdStarts in lambdas/coldstart_test.go), for credential
// sources a Lambda function never uses. Outside Lambda (tools, tests) use config.LoadDefaultConfig.
func Config() (aws.Config, error) {
	region := firstSet("AWS_REGION", "AWS_DEFAULT_REGION")
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	var missing []string
	if region == "" {
		missing = append(missing, "AWS_REGION")
	}
	if key == "" {
		missing = append(missing, "AWS_ACCESS_KEY_ID")
	}
	if secret == "" {
		missing = append(missing, "AWS_SECRET_ACCESS_KEY")
	}
	if len(missing) > 0 {
		return aws.Config{}, fmt.Errorf("%w: %s not set (Lambda sets them for every function)", ErrIncomplete, strings.Join(missing, ", "))
	}
	cfg := aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key, secret, os.Getenv("AWS_SESSION_TOKEN"))),
	}
	if u := os.Getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = aws.String(u)
	}
	return cfg, nil
}

// Endpoint returns the base endpoint for a service from AWS_ENDPOINT_URL_<SERVICE> (for example
// "SNS", "SECRETS_MANAGER", "CLOUDHSM_V2"), falling back to AWS_ENDPOINT_URL; nil when neither is
// set. Pass it to the client's options: o.BaseEndpoint = lambdaenv.Endpoint("SNS").
func Endpoint(service string) *string {
	if u := firstSet("AWS_ENDPOINT_URL_"+service, "AWS_ENDPOINT_URL"); u != "" {
		return aws.String(u)
	}
	return nil
}

func firstSet(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}
