package trailalert_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/strongroom/strongroom/pkg/trailalert"
	"github.com/strongroom/strongroom/pkg/trailalert/trailalerttest"
)

// Relay's publishing, error classification and logging are tested against the sandbox's SNS in
// lambdas/trailrelay, next to the binary that uses it.

func TestNewRelayValidatesTopicARN(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(&bytes.Buffer{}, nil))
	for _, arn := range []string{"", "strongroom-alerts", "arn:aws:sqs:us-east-1:111122223333:q", "arn:aws:sns:us-east-1:111122223333:"} {
		if _, err := trailalert.NewRelay(trailalerttest.NewAlerter(t), sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1")}), arn, log); err == nil || !strings.Contains(err.Error(), "TOPIC_ARN") {
			t.Errorf("NewRelay(%q) = %v; want an error naming TOPIC_ARN", arn, err)
		}
	}
}
