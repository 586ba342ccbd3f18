package dbconfig_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/infra/database/dbconfig"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestSchedulesAgreeWithSecretsManager checks synth-time validation against a second, independent
// implementation of RotateSecret's RotationRules checks: the sandbox's Secrets Manager, reached over
// HTTP with the real SDK client. Every schedule the stack would deploy (the RotationRules it writes:
// ScheduleExpression, and Duration when set) must be accepted, and every schedule refused at synth
// must be refused by the service too, so synthesis neither lets through what would fail at deploy
// nor blocks what would work.
func TestSchedulesAgreeWithSecretsManager(t *testing.T) {
	env := sandboxtest.New(t)
	ctx := sandboxtest.Context(t, time.Minute)
	client := sm.NewFromConfig(env.AWSConfig())
	// The function only has to exist: RotateSecret validates the rules before anything runs, and
	// with RotateImmediately=false an accepted request only runs testSecret, which this accepts.
	fnARN, err := env.Lambda.RegisterHandler("rotation-placeholder", func(context.Context, []byte) ([]byte, error) { return []byte("null"), nil })
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ schedule, window string }{
		{"rate(4 hours)", "4h"},
		{"rate(4 hours)", "5h"},
		{"rate(3 hours)", "1h"},
		{"rate(12 hours)", "2h"},
		{"rate(1 day)", ""},
		{"rate(30 days)", "4h"},
		{"rate(999 days)", "24h"},
		{"rate(1000 days)", "4h"},
		{"rate(2 weeks)", "4h"},
		{"rate(240 minutes)", "4h"},
		{"cron(0 4 ? * SUN *)", "3h"},
		{"cron(0 4 1 * ? *)", ""},
		{"cron(0 0/4 * * ? *)", "4h"},
		{"cron(0 0/4 * * ? *)", "5h"},
		{"cron(0 0/2 * * ? *)", "1h"},
		{"cron(0 4/12 * * ? *)", "2h"},
		{"cron(0 4 ? * SUN#1 *)", "2h"},
		{"cron(0 4 L * ? *)", "2h"},
		{"cron(0 4 ? * 6L *)", "2h"},
		{"cron(0 4 ? JAN-MAR MON-FRI *)", "2h"},
		{"cron(15 4 ? * SUN *)", "2h"},
		{"cron(0 4 ? * SUN 2027)", "2h"},
		{"cron(0 4 1 * SUN *)", "2h"},
		{"cron(0 4 1 13 ? *)", "2h"},
		{"cron(0 22 ? * SAT *)", "2h"},
		{"cron(0 22 ? * SAT *)", "3h"},
		{"cron(0 4 * * ?)", "2h"},
		{"rate(30 days)", "30m"},
		{"rate(30 days)", "0h"},
		{"daily", "4h"},
	}
	// Where the sandbox departs from AWS's documentation, with the source; the test fails when such
	// a case starts to agree, so the entry is removed once the sandbox is fixed.
	knownDifferences := map[string]string{
		"rate(1000 days)": "the sandbox accepts up to 1000 days (AutomaticallyAfterDays' range); the Secrets Manager User Guide " +
			"(Rotation schedules, rate expressions) says \"The maximum rotation period is 999 days\"",
	}
	for i, c := range cases {
		t.Run(fmt.Sprintf("%s %s", c.schedule, c.window), func(t *testing.T) {
			cfg, synthErr := dbconfig.Read(func(k string) any {
				return map[string]any{dbconfig.KeyRotationSchedule: c.schedule, dbconfig.KeyRotationWindow: c.window}[k]
			})
			name := fmt.Sprintf("schedule-%d", i)
			if _, err := client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(`{"engine":"mariadb"}`)}); err != nil {
				t.Fatal(err)
			}
			rules := &types.RotationRulesType{ScheduleExpression: aws.String(c.schedule)}
			if synthErr == nil {
				// What the stack writes into AWS::SecretsManager::RotationSchedule.
				rules.ScheduleExpression = aws.String(cfg.Schedule.Expression)
			}
			if c.window != "" {
				rules.Duration = aws.String(c.window)
			}
			_, apiErr := client.RotateSecret(ctx, &sm.RotateSecretInput{
				SecretId: aws.String(name), RotationLambdaARN: aws.String(fnARN), RotateImmediately: aws.Bool(false), RotationRules: rules,
			})
			var ae smithy.APIError
			if apiErr != nil && (!errors.As(apiErr, &ae) || ae.ErrorCode() != "InvalidParameterException") {
				t.Fatalf("RotateSecret: %v, want success or InvalidParameterException", apiErr)
			}
			agree := (synthErr == nil) == (apiErr == nil)
			if why, known := knownDifferences[c.schedule]; known {
				if agree {
					t.Errorf("synthesis and the sandbox now agree on %s; remove it from knownDifferences (%s)", c.schedule, why)
				} else {
					t.Logf("known difference: %s", why)
				}
				return
			}
			switch {
			case synthErr == nil && apiErr != nil:
				t.Errorf("synthesis accepts it, Secrets Manager refuses it: %v", apiErr)
			case synthErr != nil && apiErr == nil:
				t.Errorf("synthesis refuses it (%v), Secrets Manager accepts it", synthErr)
			}
		})
	}
}
