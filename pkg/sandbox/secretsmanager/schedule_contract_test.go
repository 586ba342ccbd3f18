package secretsmanager_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/secretsmanager"
)

// TestScheduledRotation runs a rate(4 hours) schedule on a clock where an hour takes a
// millisecond: the service starts rotations by itself until CancelRotateSecret.
func TestScheduledRotation(t *testing.T) {
	srv := sandbox.NewServer(sandbox.Options{Scale: 3600 * 1000})
	fn := &rotationFunc{}
	svc := secretsmanager.New(srv.Clock, fn, secretsmanager.WithScheduledRotation())
	srv.RegisterJSON(svc)
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		svc.Close()
		if err := srv.Close(); err != nil {
			t.Logf("close sandbox: %v", err)
		}
	})
	client := sm.New(sm.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDSANDBOX", "sandbox-secret-key", "")})
	fn.client = client
	ctx := context.Background()
	if _, err := client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("sched"), SecretString: aws.String(`{"password":"first"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("sched"), RotationLambdaARN: aws.String("rotate"),
		RotationRules: &types.RotationRulesType{ScheduleExpression: aws.String("rate(4 hours)")}}); err != nil {
		t.Fatal(err)
	}
	creates := func() int {
		got, _ := fn.received()
		n := 0
		for _, ev := range got {
			if ev["Step"] == "createSecret" {
				n++
			}
		}
		return n
	}
	for i := 0; i < 2500 && creates() < 3; i++ {
		time.Sleep(2 * time.Millisecond)
	}
	if n := creates(); n < 3 {
		t.Fatalf("%d rotations after 5 s of wall time (thousands of sandbox hours); want the schedule to start them", n)
	}
	if _, err := client.CancelRotateSecret(ctx, &sm.CancelRotateSecretInput{SecretId: aws.String("sched")}); err != nil {
		t.Fatal(err)
	}
	waitRotation(t, svc, "sched")
	stopped := creates()
	d, err := client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("sched")})
	if err != nil {
		t.Fatal(err)
	}
	if *d.RotationEnabled || d.NextRotationDate != nil || d.LastRotatedDate == nil {
		t.Fatalf("after cancel: enabled %v next %v last %v", *d.RotationEnabled, d.NextRotationDate, d.LastRotatedDate)
	}
	var pending, current int
	for _, stages := range d.VersionIdsToStages {
		for _, l := range stages {
			switch l {
			case "AWSPENDING":
				pending++
			case "AWSCURRENT":
				current++
			}
		}
	}
	if pending != 0 || current != 1 {
		t.Fatalf("labels after scheduled rotations: %v", d.VersionIdsToStages)
	}
	// 50 ms of wall time is 50 sandbox hours: a dozen windows in which nothing may start.
	time.Sleep(50 * time.Millisecond)
	if n := creates(); n != stopped {
		t.Fatalf("%d rotations started after CancelRotateSecret", n-stopped)
	}
}
