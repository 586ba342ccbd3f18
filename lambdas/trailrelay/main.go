// Command trailrelay is the CloudTrail alerts Lambda: EventBridge delivers a CloudTrail event, the
// relay publishes one SNS message for it (pkg/trailalert does the work).
//
// Environment:
//
//	TOPIC_ARN      the SNS topic to publish to (required)
//	REDACT_FIELDS  comma-separated extra field-name markers to redact, added to
//	               trailalert.DefaultSensitiveFields (optional)
package main

import (
	"context"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/awsenv"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/trailalert"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	relay, err := setup(context.Background(), log)
	if err != nil {
		log.Error("init failed", "step", "trailrelay", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(lambdaerr.Wrap("trailrelay", log, relay.Handle))
}

func setup(ctx context.Context, log *slog.Logger) (*trailalert.Relay, error) {
	fields := append([]string{}, trailalert.DefaultSensitiveFields...)
	for _, f := range strings.Split(os.Getenv("REDACT_FIELDS"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	alerter, err := trailalert.New(trailalert.Options{SensitiveFields: fields})
	if err != nil {
		return nil, err
	}
	// awsenv, not config.LoadDefaultConfig: the relay's cold start is measured (BenchmarkColdStart).
	cfg, err := awsenv.Config()
	if err != nil {
		return nil, err
	}
	client := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = awsenv.Endpoint("SNS") })
	return trailalert.NewRelay(alerter, client, os.Getenv("TOPIC_ARN"), log)
}
