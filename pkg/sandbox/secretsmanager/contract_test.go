package secretsmanager_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/sandbox/secretsmanager"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

const (
	tokA = "aaaaaaaa-1111-4111-8111-aaaaaaaaaaaa"
	tokB = "bbbbbbbb-2222-4222-8222-bbbbbbbbbbbb"
	tokC = "cccccccc-3333-4333-8333-cccccccccccc"
)

var arnRe = regexp.MustCompile(`^arn:aws:secretsmanager:us-east-1:123456789012:secret:app/db-[A-Za-z0-9]{6}$`)

func TestCreateAndGetByNameAndARN(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	out, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{
		Name: aws.String("app/db"), SecretString: aws.String(`{"password":"s3cret-one"}`),
		KmsKeyId: aws.String("alias/strongroom"), Description: aws.String("db creds"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("platform")}},
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if !arnRe.MatchString(*out.ARN) {
		t.Fatalf("ARN %q does not have the <name>-<6 chars> form", *out.ARN)
	}
	partial := strings.TrimSuffix(*out.ARN, (*out.ARN)[len(*out.ARN)-7:])
	for name, id := range map[string]string{"name": "app/db", "full ARN": *out.ARN, "partial ARN": partial} {
		t.Run(name, func(t *testing.T) {
			got, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(id)})
			if err != nil {
				t.Fatalf("get by %s: %v", name, err)
			}
			if *got.SecretString != `{"password":"s3cret-one"}` || *got.VersionId != *out.VersionId || *got.ARN != *out.ARN {
				t.Fatalf("got %q version %s arn %s", *got.SecretString, *got.VersionId, *got.ARN)
			}
			if !slices.Equal(got.VersionStages, []string{"AWSCURRENT"}) {
				t.Fatalf("stages %v", got.VersionStages)
			}
		})
	}
	d, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("app/db")})
	if err != nil {
		t.Fatalf("describe: %v", err)
	}
	if *d.KmsKeyId != "alias/strongroom" || *d.Description != "db creds" || len(d.Tags) != 1 || *d.Tags[0].Value != "platform" {
		t.Fatalf("describe lost metadata: %+v", d)
	}
	if d.CreatedDate == nil || d.LastChangedDate == nil || d.RotationEnabled != nil {
		t.Fatalf("describe dates/rotation: %+v", d)
	}
	_, err = e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) || *nf.Message != "Secrets Manager can't find the specified secret." {
		t.Fatalf("unknown secret: %v", err)
	}
	_, err = e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(partial[:len(partial)-1] + "x")})
	if !errors.As(err, &nf) {
		t.Fatalf("wrong partial ARN: %v", err)
	}
	if v, err := e.svc.SecretString(ctx, "app/db"); err != nil || v != `{"password":"s3cret-one"}` {
		t.Fatalf("SecretReader: %q %v", v, err)
	}
	if vals := e.svc.SecretValues(); !slices.Contains(vals, "s3cret-one") || !slices.Contains(vals, `{"password":"s3cret-one"}`) {
		t.Fatalf("SecretValues misses the stored value and its password field: %q", vals)
	}
}

func TestCreateSecretIdempotency(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("idem"), SecretString: aws.String("v1"), ClientRequestToken: aws.String(tokA)})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if *first.VersionId != tokA {
		t.Fatalf("VersionId %s, want the token %s", *first.VersionId, tokA)
	}
	cases := []struct {
		name, token, value, wantCode string
	}{
		{"same token and value is a retry", tokA, "v1", ""},
		{"same token other value", tokA, "v2", "ResourceExistsException"},
		{"other token", tokB, "v1", "ResourceExistsException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("idem"), SecretString: aws.String(tc.value), ClientRequestToken: aws.String(tc.token)})
			if tc.wantCode == "" {
				if err != nil || *out.ARN != *first.ARN || *out.VersionId != tokA {
					t.Fatalf("retry: %v %+v", err, out)
				}
				return
			}
			msg := sandboxtest.WantCode(t, err, tc.wantCode)
			if !strings.Contains(msg, "idem already exists") {
				t.Fatalf("message %q", msg)
			}
		})
	}
	_, err = e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("both"), SecretString: aws.String("a"), SecretBinary: []byte("b")})
	sandboxtest.WantCode(t, err, "InvalidParameterException")
	_, err = e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("bad name!")})
	sandboxtest.WantCode(t, err, "InvalidParameterException")
}

func TestPutSecretValueMovesLabels(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("labels"), SecretString: aws.String("one"), ClientRequestToken: aws.String(tokA)}); err != nil {
		t.Fatal(err)
	}
	put := func(tok, value string, stages ...string) (*sm.PutSecretValueOutput, error) {
		return e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("labels"), ClientRequestToken: aws.String(tok), SecretString: aws.String(value), VersionStages: stages})
	}
	out, err := put(tokB, "two")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.VersionStages, []string{"AWSCURRENT"}) {
		t.Fatalf("default stages %v", out.VersionStages)
	}
	st := stagesOf(t, e, "labels")
	if holder(st, "AWSCURRENT") != tokB || holder(st, "AWSPREVIOUS") != tokA {
		t.Fatalf("after second put: %v", st)
	}
	if _, err := put(tokC, "three", "AWSPENDING"); err != nil {
		t.Fatal(err)
	}
	st = stagesOf(t, e, "labels")
	if holder(st, "AWSCURRENT") != tokB || holder(st, "AWSPENDING") != tokC || holder(st, "AWSPREVIOUS") != tokA {
		t.Fatalf("pending put moved other labels: %v", st)
	}
	got, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("labels"), VersionStage: aws.String("AWSPENDING")})
	if err != nil || *got.SecretString != "three" {
		t.Fatalf("get pending: %v", err)
	}
	got, err = e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("labels"), VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || *got.SecretString != "one" {
		t.Fatalf("get previous: %v", err)
	}
	if _, err := put(tokC, "three", "AWSPENDING"); err != nil {
		t.Fatalf("retried put with same token and value must succeed: %v", err)
	}
	_, err = put(tokC, "other")
	sandboxtest.WantCode(t, err, "ResourceExistsException")
	_, err = e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("labels"), VersionId: aws.String(tokA), VersionStage: aws.String("AWSCURRENT")})
	sandboxtest.WantCode(t, err, "ResourceNotFoundException")
	_, err = e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("labels")})
	sandboxtest.WantCode(t, err, "InvalidParameterException")

	list, err := e.client.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("labels")})
	if err != nil || len(list.Versions) != 3 {
		t.Fatalf("list versions: %v %+v", err, list)
	}
}

func TestUpdateSecretVersionStage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("stage"), SecretString: aws.String("one"), ClientRequestToken: aws.String(tokA)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("stage"), ClientRequestToken: aws.String(tokB), SecretString: aws.String("two"), VersionStages: []string{"AWSPENDING", "blue"}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name           string
		stage          string
		move, remove   string
		wantCode       string
		wantMsg        string
		wantCur, wantP string // AWSCURRENT and AWSPREVIOUS holders afterwards (success only)
	}{
		{name: "move without RemoveFromVersionId", stage: "AWSCURRENT", move: tokB, wantCode: "InvalidParameterException",
			wantMsg: "The parameter RemoveFromVersionId can't be empty. Staging label AWSCURRENT is currently attached to version " + tokA},
		{name: "remove from a version without the label", stage: "AWSCURRENT", move: tokB, remove: tokB, wantCode: "InvalidParameterException", wantMsg: "not attached to version " + tokB},
		{name: "remove AWSCURRENT without moving it", stage: "AWSCURRENT", remove: tokA, wantCode: "InvalidParameterException", wantMsg: "AWSCURRENT"},
		{name: "unknown version", stage: "AWSCURRENT", move: tokC, remove: tokA, wantCode: "ResourceNotFoundException"},
		{name: "no version given", stage: "blue", wantCode: "InvalidParameterException"},
		{name: "move AWSCURRENT", stage: "AWSCURRENT", move: tokB, remove: tokA, wantCur: tokB, wantP: tokA},
		{name: "remove a custom label", stage: "blue", remove: tokB, wantCur: tokB, wantP: tokA},
		{name: "attach a new label", stage: "green", move: tokA, wantCur: tokB, wantP: tokA},
		{name: "move AWSCURRENT back", stage: "AWSCURRENT", move: tokA, remove: tokB, wantCur: tokA, wantP: tokB},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &sm.UpdateSecretVersionStageInput{SecretId: aws.String("stage"), VersionStage: aws.String(tc.stage)}
			if tc.move != "" {
				in.MoveToVersionId = aws.String(tc.move)
			}
			if tc.remove != "" {
				in.RemoveFromVersionId = aws.String(tc.remove)
			}
			_, err := e.client.UpdateSecretVersionStage(ctx, in)
			if tc.wantCode != "" {
				if msg := sandboxtest.WantCode(t, err, tc.wantCode); !strings.Contains(msg, tc.wantMsg) {
					t.Fatalf("message %q does not contain %q", msg, tc.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st := stagesOf(t, e, "stage")
			if holder(st, "AWSCURRENT") != tc.wantCur || holder(st, "AWSPREVIOUS") != tc.wantP {
				t.Fatalf("stages %v, want AWSCURRENT on %s and AWSPREVIOUS on %s", st, tc.wantCur, tc.wantP)
			}
		})
	}
	st := stagesOf(t, e, "stage")
	if holder(st, "blue") != "" || holder(st, "green") != tokA || holder(st, "AWSPENDING") != tokB {
		t.Fatalf("custom labels: %v", st)
	}
}

func TestGetRandomPasswordOverTheWire(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cases := []struct {
		name     string
		in       sm.GetRandomPasswordInput
		wantLen  int
		wantCode string
		check    func(string) bool
	}{
		{name: "defaults", wantLen: 32, check: func(p string) bool {
			return strings.ContainsAny(p, "0123456789") && strings.ContainsAny(p, `!"#$%&'()*+,-./:;<=>?@[\]^_`+"`{|}~")
		}},
		{name: "length 4096", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(4096)}, wantLen: 4096},
		{name: "length 1 without requirement", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(1), RequireEachIncludedType: aws.Bool(false)}, wantLen: 1},
		{name: "alphanumeric", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(64), ExcludePunctuation: aws.Bool(true)}, wantLen: 64,
			check: func(p string) bool { return regexp.MustCompile(`^[A-Za-z0-9]+$`).MatchString(p) }},
		{name: "excluded characters", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(200), ExcludeCharacters: aws.String(`/@"'\ abc`)}, wantLen: 200,
			check: func(p string) bool { return !strings.ContainsAny(p, `/@"'\ abc`) }},
		{name: "digits only", in: sm.GetRandomPasswordInput{ExcludeLowercase: aws.Bool(true), ExcludeUppercase: aws.Bool(true), ExcludePunctuation: aws.Bool(true)}, wantLen: 32,
			check: func(p string) bool { return regexp.MustCompile(`^[0-9]+$`).MatchString(p) }},
		{name: "length 0", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(0)}, wantCode: "InvalidParameterException"},
		{name: "length 4097", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(4097)}, wantCode: "InvalidParameterException"},
		{name: "too short for each type", in: sm.GetRandomPasswordInput{PasswordLength: aws.Int64(3)}, wantCode: "InvalidParameterException"},
		{name: "everything excluded", in: sm.GetRandomPasswordInput{ExcludeLowercase: aws.Bool(true), ExcludeUppercase: aws.Bool(true), ExcludePunctuation: aws.Bool(true), ExcludeNumbers: aws.Bool(true)}, wantCode: "InvalidParameterException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.client.GetRandomPassword(ctx, &tc.in)
			if tc.wantCode != "" {
				sandboxtest.WantCode(t, err, tc.wantCode)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(*out.RandomPassword) != tc.wantLen {
				t.Fatalf("length %d, want %d", len(*out.RandomPassword), tc.wantLen)
			}
			if tc.check != nil && !tc.check(*out.RandomPassword) {
				t.Fatalf("password %q fails the case's check", *out.RandomPassword)
			}
		})
	}
}

func TestDeleteAndRestore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("v")}); err != nil {
		t.Fatal(err)
	}
	_, err := e.client.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone"), RecoveryWindowInDays: aws.Int64(6)})
	sandboxtest.WantCode(t, err, "InvalidParameterException")
	_, err = e.client.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone"), RecoveryWindowInDays: aws.Int64(7), ForceDeleteWithoutRecovery: aws.Bool(true)})
	sandboxtest.WantCode(t, err, "InvalidParameterException")
	del, err := e.client.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone"), RecoveryWindowInDays: aws.Int64(7)})
	if err != nil {
		t.Fatal(err)
	}
	if got := del.DeletionDate.Sub(e.sb.Clock.Now()).Hours(); got < 7*24-1 || got > 7*24+0.01 {
		t.Fatalf("DeletionDate %v is %.1f h away, want 7 days", del.DeletionDate, got)
	}
	_, err = e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("gone")})
	if msg := sandboxtest.WantCode(t, err, "InvalidRequestException"); !strings.Contains(msg, "marked for deletion") {
		t.Fatalf("message %q", msg)
	}
	d, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("gone")})
	if err != nil || d.DeletedDate == nil {
		t.Fatalf("describe a deleted secret: %v %+v", err, d)
	}
	_, err = e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("again")})
	sandboxtest.WantCode(t, err, "InvalidRequestException")
	if _, err := e.client.RestoreSecret(ctx, &sm.RestoreSecretInput{SecretId: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("gone")}); err != nil || *got.SecretString != "v" {
		t.Fatalf("after restore: %v", err)
	}
	if _, err := e.client.DeleteSecret(ctx, &sm.DeleteSecretInput{SecretId: aws.String("gone"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("gone")})
	sandboxtest.WantCode(t, err, "ResourceNotFoundException")
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("gone"), SecretString: aws.String("new")}); err != nil {
		t.Fatalf("name reuse after force delete: %v", err)
	}
}

func TestTagsAndResourcePolicy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("tagged"), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.TagResource(ctx, &sm.TagResourceInput{SecretId: aws.String("tagged"), Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("2")}, {Key: aws.String("b"), Value: aws.String("3")}}}); err != nil {
		t.Fatal(err)
	}
	d, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("tagged")})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tg := range d.Tags {
		tags[*tg.Key] = *tg.Value
	}
	if tags["a"] != "2" || tags["b"] != "3" || len(tags) != 2 {
		t.Fatalf("tags %v", tags)
	}
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"secretsmanager:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	if _, err := e.client.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("tagged"), ResourcePolicy: aws.String(policy), BlockPublicPolicy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	got, err := e.client.GetResourcePolicy(ctx, &sm.GetResourcePolicyInput{SecretId: aws.String("tagged")})
	if err != nil || *got.ResourcePolicy != policy {
		t.Fatalf("get policy: %v", err)
	}
	_, err = e.client.PutResourcePolicy(ctx, &sm.PutResourcePolicyInput{SecretId: aws.String("tagged"), ResourcePolicy: aws.String("{not json")})
	var mp *types.MalformedPolicyDocumentException
	if !errors.As(err, &mp) {
		t.Fatalf("malformed policy: %v", err)
	}
}

func TestRotateSecretDrivesFourSteps(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	created, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("rot"), SecretString: aws.String(`{"username":"app","password":"initial-pw"}`), ClientRequestToken: aws.String(tokA)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []secretsmanager.RotationEvent
	e.svc.OnRotationEvent(func(ev secretsmanager.RotationEvent) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
	})
	fn := e.fnARN
	out, err := e.client.RotateSecret(ctx, &sm.RotateSecretInput{
		SecretId: aws.String("rot"), RotationLambdaARN: aws.String(fn), ClientRequestToken: aws.String(tokB),
		RotationRules: &types.RotationRulesType{ScheduleExpression: aws.String("rate(10 days)"), Duration: aws.String("3h")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if *out.VersionId != tokB {
		t.Fatalf("RotateSecret VersionId %s, want the token", *out.VersionId)
	}
	waitRotation(t, e.svc, "rot")
	got, names := e.fn.received()
	var steps []string
	for i, ev := range got {
		steps = append(steps, ev["Step"].(string))
		keys := make([]string, 0, len(ev))
		for k := range ev {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"ClientRequestToken", "RotationToken", "SecretId", "Step"}) {
			t.Fatalf("event %d has keys %v", i, keys)
		}
		if ev["SecretId"] != *created.ARN || ev["ClientRequestToken"] != tokB || ev["RotationToken"] == "" || names[i] != "rotate" {
			t.Fatalf("event %d: %v to %s", i, ev, names[i])
		}
	}
	if !slices.Equal(steps, []string{"createSecret", "setSecret", "testSecret", "finishSecret"}) {
		t.Fatalf("steps %v", steps)
	}
	st := stagesOf(t, e, "rot")
	if holder(st, "AWSCURRENT") != tokB || holder(st, "AWSPREVIOUS") != tokA || holder(st, "AWSPENDING") != "" {
		t.Fatalf("stages after rotation %v", st)
	}
	d, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("rot")})
	if err != nil {
		t.Fatal(err)
	}
	if !*d.RotationEnabled || *d.RotationLambdaARN != fn || d.LastRotatedDate == nil || d.NextRotationDate == nil ||
		*d.RotationRules.ScheduleExpression != "rate(10 days)" || *d.RotationRules.Duration != "3h" || *d.RotationRules.AutomaticallyAfterDays != 10 {
		t.Fatalf("describe after rotation: %+v rules %+v", d, d.RotationRules)
	}
	if days := d.NextRotationDate.Sub(*d.LastRotatedDate).Hours() / 24; days < 9 || days > 10 {
		t.Fatalf("NextRotationDate is %.1f days after LastRotatedDate, want 10 days from that day's midnight", days)
	}
	cur, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("rot")})
	if err != nil || strings.Contains(*cur.SecretString, "initial-pw") {
		t.Fatalf("current value not rotated: %v", err)
	}
	// Service events reach hooks asynchronously, in order; wait (bounded) for the two.
	var names2 []string
	for i := 0; i < 500 && len(names2) < 2; i++ {
		if i > 0 {
			time.Sleep(2 * time.Millisecond)
		}
		mu.Lock()
		names2 = names2[:0]
		for _, ev := range events {
			names2 = append(names2, ev.Name)
		}
		mu.Unlock()
	}
	if len(names2) < 2 || names2[0] != "RotationStarted" || names2[1] != "RotationSucceeded" {
		t.Fatalf("service events %v", names2)
	}
	// The rotation's new password is known to secret scans.
	if vals := e.svc.SecretValues(); !slices.ContainsFunc(vals, func(v string) bool { return strings.Contains(*cur.SecretString, v) && len(v) == 32 }) {
		t.Fatalf("SecretValues misses the rotated password")
	}
	// A retried RotateSecret with the finished rotation's token answers the same and rotates nothing.
	before, _ := e.fn.received()
	again, err := e.client.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("rot"), ClientRequestToken: aws.String(tokB)})
	if err != nil || *again.VersionId != tokB {
		t.Fatalf("retried RotateSecret: %v", err)
	}
	waitRotation(t, e.svc, "rot")
	if after, _ := e.fn.received(); len(after) != len(before) {
		t.Fatalf("a retried RotateSecret invoked the function again (%d -> %d events)", len(before), len(after))
	}
	// A second rotation starts cleanly from the finished one.
	if _, err := e.client.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("rot"), ClientRequestToken: aws.String(tokC)}); err != nil {
		t.Fatalf("second rotation: %v", err)
	}
	waitRotation(t, e.svc, "rot")
	if st := stagesOf(t, e, "rot"); holder(st, "AWSCURRENT") != tokC || holder(st, "AWSPREVIOUS") != tokB {
		t.Fatalf("after second rotation %v", st)
	}
}

func TestRotationFailureLeavesPendingAndIsReattempted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("fail"), SecretString: aws.String(`{"password":"keep-me"}`), ClientRequestToken: aws.String(tokA)}); err != nil {
		t.Fatal(err)
	}
	type failure struct{ arn, step, msg string }
	failures := make(chan failure, 4)
	e.svc.OnRotationFailed(func(arn, step, msg string) {
		select {
		case failures <- failure{arn, step, msg}:
		default:
			t.Errorf("more rotation failures than expected: %s at %s", arn, step)
		}
	})
	events := make(chan secretsmanager.RotationEvent, 16)
	e.svc.OnRotationEvent(func(ev secretsmanager.RotationEvent) {
		select {
		case events <- ev:
		default:
		}
	})
	e.fn.setFailAt("setSecret")
	fn := e.fnARN
	if _, err := e.client.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("fail"), RotationLambdaARN: aws.String(fn), ClientRequestToken: aws.String(tokB)}); err != nil {
		t.Fatal(err)
	}
	var f failure
	select {
	case f = <-failures:
	case <-time.After(5 * time.Second):
		t.Fatal("OnRotationFailed not called within 5 s")
	}
	waitRotation(t, e.svc, "fail")
	if f.step != "setSecret" || f.msg != "Error when executing lambda "+fn+" during setSecret step" || !strings.HasSuffix(f.arn, "secret:fail-"+f.arn[len(f.arn)-6:]) {
		t.Fatalf("failure event %+v", f)
	}
	// The same failure as a service event, and the CloudTrail record EventBridge carries as its
	// detail.
	var failed *secretsmanager.RotationEvent
	for failed == nil {
		select {
		case ev := <-events:
			if ev.Name == "RotationFailed" {
				failed = &ev
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no RotationFailed service event within 5 s")
		}
	}
	rec := failed.CloudTrailRecord("123456789012", "us-east-1")
	if rec["eventSource"] != "secretsmanager.amazonaws.com" || rec["eventName"] != "RotationFailed" || rec["eventType"] != "AwsServiceEvent" ||
		rec["errorMessage"] != f.msg || rec["additionalEventData"].(map[string]any)["SecretId"] != f.arn || rec["requestParameters"] != nil ||
		!strings.Contains(rec["requestID"].(string), tokB) {
		t.Fatalf("CloudTrail record %v", rec)
	}
	if cause, _ := e.svc.LastRotationError("fail"); !strings.Contains(cause, "database refused the connection during setSecret") {
		t.Fatalf("LastRotationError %q", cause)
	}
	st := stagesOf(t, e, "fail")
	if holder(st, "AWSCURRENT") != tokA || holder(st, "AWSPENDING") != tokB {
		t.Fatalf("failed rotation must leave AWSCURRENT and AWSPENDING: %v", st)
	}
	if cur, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("fail")}); err != nil || *cur.SecretString != `{"password":"keep-me"}` {
		t.Fatalf("current value after failure: %v", err)
	}
	// A new rotation request is refused while AWSPENDING is elsewhere, and the pending one is
	// reattempted; with the database back it converges on the pending token.
	e.fn.setFailAt("")
	_, err := e.client.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: aws.String("fail"), ClientRequestToken: aws.String(tokC)})
	if msg := sandboxtest.WantCode(t, err, "InvalidRequestException"); msg != "A previous rotation isn't complete. That rotation will be reattempted." {
		t.Fatalf("message %q", msg)
	}
	waitRotation(t, e.svc, "fail")
	st = stagesOf(t, e, "fail")
	if holder(st, "AWSCURRENT") != tokB || holder(st, "AWSPREVIOUS") != tokA || holder(st, "AWSPENDING") != "" {
		t.Fatalf("reattempt did not converge: %v", st)
	}
}

func TestRotateSecretValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("val"), SecretString: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	fn := e.fnARN
	cases := []struct {
		name  string
		rules *types.RotationRulesType
		noFn  bool
		code  string
	}{
		{name: "no function", noFn: true, code: "InvalidRequestException"},
		{name: "rate below four hours", rules: &types.RotationRulesType{ScheduleExpression: aws.String("rate(3 hours)")}, code: "InvalidParameterException"},
		{name: "cron with minutes", rules: &types.RotationRulesType{ScheduleExpression: aws.String("cron(30 4 * * ? *)")}, code: "InvalidParameterException"},
		{name: "cron with a year", rules: &types.RotationRulesType{ScheduleExpression: aws.String("cron(0 4 * * ? 2027)")}, code: "InvalidParameterException"},
		{name: "both days and expression", rules: &types.RotationRulesType{AutomaticallyAfterDays: aws.Int64(3), ScheduleExpression: aws.String("rate(3 days)")}, code: "InvalidParameterException"},
		{name: "window past the day", rules: &types.RotationRulesType{ScheduleExpression: aws.String("cron(0 22 * * ? *)"), Duration: aws.String("4h")}, code: "InvalidParameterException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := &sm.RotateSecretInput{SecretId: aws.String("val"), RotationRules: tc.rules}
			if !tc.noFn {
				in.RotationLambdaARN = aws.String(fn)
			}
			_, err := e.client.RotateSecret(ctx, in)
			sandboxtest.WantCode(t, err, tc.code)
		})
	}
	if got, _ := e.fn.received(); len(got) != 0 {
		t.Fatalf("refused requests invoked the function %d times", len(got))
	}
}

func TestRotateNotImmediatelyRunsTestSecretOnly(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("later"), SecretString: aws.String("x"), ClientRequestToken: aws.String(tokA)}); err != nil {
		t.Fatal(err)
	}
	out, err := e.client.RotateSecret(ctx, &sm.RotateSecretInput{
		SecretId: aws.String("later"), RotationLambdaARN: aws.String(e.fnARN), RotateImmediately: aws.Bool(false),
		RotationRules: &types.RotationRulesType{ScheduleExpression: aws.String("cron(0 4 ? * SUN#1 *)")},
	})
	if err != nil {
		t.Fatal(err)
	}
	waitRotation(t, e.svc, "later")
	got, _ := e.fn.received()
	if len(got) != 1 || got[0]["Step"] != "testSecret" || got[0]["ClientRequestToken"] != *out.VersionId {
		t.Fatalf("events %v", got)
	}
	st := stagesOf(t, e, "later")
	if len(st) != 1 || holder(st, "AWSCURRENT") != tokA {
		t.Fatalf("test rotation left versions behind: %v", st)
	}
	d, err := e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("later")})
	if err != nil || !*d.RotationEnabled || d.NextRotationDate == nil || d.NextRotationDate.Weekday() != 0 || d.NextRotationDate.Hour() != 4 || d.NextRotationDate.Day() > 7 {
		t.Fatalf("next rotation for the first Sunday at 04:00: %v %v", err, d.NextRotationDate)
	}
	c, err := e.client.CancelRotateSecret(ctx, &sm.CancelRotateSecretInput{SecretId: aws.String("later")})
	if err != nil {
		t.Fatal(err)
	}
	d, err = e.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String("later")})
	if err != nil || *d.RotationEnabled || c.VersionId != nil {
		t.Fatalf("after cancel: %v %+v", err, d)
	}
}

func TestUpdateSecretAndListSecrets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, name := range []string{"prod/db", "prod/api", "dev/db"} {
		if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("v1-" + name), ClientRequestToken: aws.String(tokA)}); err != nil {
			t.Fatal(err)
		}
	}
	up, err := e.client.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("prod/db"), SecretString: aws.String("v2"), Description: aws.String("rotated by hand"), ClientRequestToken: aws.String(tokB)})
	if err != nil || *up.VersionId != tokB {
		t.Fatalf("update: %v", err)
	}
	st := stagesOf(t, e, "prod/db")
	if holder(st, "AWSCURRENT") != tokB || holder(st, "AWSPREVIOUS") != tokA {
		t.Fatalf("UpdateSecret with a value must make a new AWSCURRENT: %v", st)
	}
	if _, err := e.client.UpdateSecret(ctx, &sm.UpdateSecretInput{SecretId: aws.String("prod/db"), Description: aws.String("metadata only")}); err != nil {
		t.Fatal(err)
	}
	if st2 := stagesOf(t, e, "prod/db"); len(st2) != 2 {
		t.Fatalf("a metadata-only UpdateSecret made a version: %v", st2)
	}
	list, err := e.client.ListSecrets(ctx, &sm.ListSecretsInput{Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{"prod/"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range list.SecretList {
		names = append(names, *s.Name)
	}
	if !slices.Equal(names, []string{"prod/api", "prod/db"}) {
		t.Fatalf("ListSecrets name filter: %v", names)
	}
	if *list.SecretList[1].Description != "metadata only" || len(list.SecretList[1].SecretVersionsToStages) != 2 {
		t.Fatalf("ListSecrets entry %+v", list.SecretList[1])
	}
}

func TestDeprecatedVersionsBeyondOneHundredAreRemoved(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.client.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("many"), SecretString: aws.String("v0"), ClientRequestToken: aws.String(tokA)}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 105; i++ {
		if _, err := e.client.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String("many"), SecretString: aws.String(fmt.Sprintf("v%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := e.client.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("many"), IncludeDeprecated: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Versions) != 100 {
		t.Fatalf("%d versions kept, want 100", len(all.Versions))
	}
	labelled, err := e.client.ListSecretVersionIds(ctx, &sm.ListSecretVersionIdsInput{SecretId: aws.String("many")})
	if err != nil || len(labelled.Versions) != 2 {
		t.Fatalf("labelled versions: %v %d", err, len(labelled.Versions))
	}
	if _, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("many"), VersionId: aws.String(tokA)}); err == nil {
		t.Fatal("the oldest deprecated version should be gone")
	}
	cur, err := e.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String("many")})
	if err != nil || *cur.SecretString != "v105" {
		t.Fatalf("current: %v", err)
	}
}
