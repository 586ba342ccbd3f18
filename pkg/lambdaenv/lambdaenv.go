// Package lambdaenv is what every Strongroom Lambda main does before lambda.Start: a JSON slog
// logger with the function's name, required environment settings that fail the cold start with a
// clear message, and the AWS SDK configuration from the Lambda environment (Config: it honours
// AWS_ENDPOINT_URL, so the same binary runs against the sandbox, and keeps cold starts short).
package lambdaenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// Logger returns the JSON logger for a step, with the step name on every line.
func Logger(step string) *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, nil)).With("step", step, "function", os.Getenv("AWS_LAMBDA_FUNCTION_NAME"))
}

// Setup is what a step's main does first: the step's logger and the AWS configuration, or an
// exit of the cold start that says what is missing.
func Setup(step string) (*slog.Logger, aws.Config) {
	log := Logger(step)
	return log, AWSConfig(log)
}

// Required returns the environment variable name or exits the cold start with a message that names
// it. Environment variables hold names and ARNs, never secrets.
func Required(log *slog.Logger, name string) string {
	v := os.Getenv(name)
	if v == "" {
		log.Error("missing required environment variable", "variable", name)
		os.Exit(1)
	}
	return v
}

// AWSConfig loads the SDK configuration or exits the cold start.
func AWSConfig(log *slog.Logger) aws.Config {
	cfg, err := Config()
	if err != nil {
		log.Error("load AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	return sandboxConfig(cfg)
}

// Start runs a step's Handle method as the Lambda handler, with errors classified for the state
// machine and logged once.
func Start[In, Out any](log *slog.Logger, handle func(context.Context, In) (Out, error)) {
	lambda.Start(lambdaerr.Wrap(log, crashOnce(handle)))
}

// Must exits the cold start when err is set, naming what failed.
func Must(log *slog.Logger, what string, err error) {
	if err != nil {
		log.Error(fmt.Sprintf("cold start: %s", what), "error", err.Error())
		os.Exit(1)
	}
}
