// Command trailrelay is the alerts Lambda: EventBridge delivers a CloudTrail event, or a Step
// Functions execution status change of a workflow that ended FAILED, TIMED_OUT or ABORTED, and the
// relay publishes one SNS message for it (pkg/trailalert does the work). For an execution it reads
// the end of the execution's history (states:GetExecutionHistory) to name the state it failed in.
//
// Environment:
//
//	TOPIC_ARN          the SNS topic to publish to (required)
//	ALERT_STATE_TABLE  the DynamoDB table of the relay's state (pkg/alertstate): each health
//	                   condition's last status, so a condition is mailed when it changes, and the
//	                   duplicate counts (trailalert.DedupWindow) (optional; without it every ALARM
//	                   finding and every delivery is mailed, and no recovery is)
//	CHAT_TOPICS        a JSON object from severity (info, warning, critical) to the SNS topic that
//	                   AWS Chatbot reads for the Slack and Teams channels wanting that severity and
//	                   above (trailalert.ParseChatTopics) (optional)
//	REDACT_FIELDS      comma-separated extra field-name markers to redact, added to
//	                   trailalert.DefaultSensitiveFields and matched as they are (inside longer
//	                   names, copies of the values blanked too; pkg/trailalert/redact.go) (optional)
//	ALERT_RULES        the operator's ignore rules, severity overrides and Strongroom's own role
//	                   names, as JSON (pkg/alertrules; infra/alerts writes it) (optional)
package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/alertrules"
	"github.com/strongroom/strongroom/pkg/alertstate"
	"github.com/strongroom/strongroom/pkg/lambdaenv"
	"github.com/strongroom/strongroom/pkg/trailalert"
)

func main() {
	log := lambdaenv.Logger("trailrelay")
	relay, err := setup(log)
	lambdaenv.Must(log, "set up the relay", err)
	lambdaenv.Start(log, relay.Handle)
}

func setup(log *slog.Logger) (*trailalert.Relay, error) {
	fields := append([]string{}, trailalert.DefaultSensitiveFields...)
	for _, f := range strings.Split(os.Getenv("REDACT_FIELDS"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			fields = append(fields, f)
		}
	}
	rules, err := alertrules.Parse(os.Getenv("ALERT_RULES"))
	if err != nil {
		return nil, fmt.Errorf("ALERT_RULES: %w", err)
	}
	alerter, err := trailalert.New(trailalert.Options{SensitiveFields: fields, OperatorRules: rules})
	if err != nil {
		return nil, err
	}
	// lambdaenv's configuration, not config.LoadDefaultConfig: the relay's cold start is measured
	// (lambdas/coldstart_test.go).
	cfg := lambdaenv.AWSConfig(log)
	client := sns.NewFromConfig(cfg, func(o *sns.Options) { o.BaseEndpoint = lambdaenv.Endpoint("SNS") })
	states := sfn.NewFromConfig(cfg, func(o *sfn.Options) { o.BaseEndpoint = lambdaenv.Endpoint("SFN") })
	now, _ := lambdaenv.Clock()
	chat, err := trailalert.ParseChatTopics(os.Getenv("CHAT_TOPICS"))
	if err != nil {
		return nil, err
	}
	opts := []trailalert.RelayOption{trailalert.WithExecutionHistory(states), trailalert.WithClock(now), trailalert.WithChatTopics(chat)}
	if table := os.Getenv("ALERT_STATE_TABLE"); table != "" {
		store, err := alertstate.New(dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = lambdaenv.Endpoint("DYNAMODB") }), table)
		if err != nil {
			return nil, err
		}
		opts = append(opts, trailalert.WithHealthState(store), trailalert.WithDedup(store))
	}
	return trailalert.NewRelay(alerter, client, os.Getenv("TOPIC_ARN"), log, opts...)
}
