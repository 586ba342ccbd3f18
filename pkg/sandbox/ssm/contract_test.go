package ssm_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	hsmv2 "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	hsmtypes "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/strongroom/strongroom/pkg/customerca"
	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/ssm"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

const scale = 3000

type env struct {
	srv     *sandbox.Server
	hsm     *cloudhsm.Service
	ssm     *awsssm.Client
	hsmc    *hsmv2.Client
	secrets *sm.Client
}

// switchableInstances is the EC2 sandbox's instance view with a power switch: the EC2 sandbox
// has no API to stop its client instance.
type switchableInstances struct {
	*ec2.Service
	stopped atomic.Bool
}

func (s *switchableInstances) InstanceRunning(id string) bool {
	return !s.stopped.Load() && s.Service.InstanceRunning(id)
}

func newEnv(t *testing.T, opts ...ssm.Option) *env {
	t.Helper()
	e, _ := newEnvWithInstances(t, opts...)
	return e
}

func newEnvWithInstances(t *testing.T, opts ...ssm.Option) (*env, *switchableInstances) {
	t.Helper()
	var instances *switchableInstances
	stack := sandboxtest.NewHSMStack(scale, func(net *ec2.Service) ssm.Instances {
		instances = &switchableInstances{Service: net}
		return instances
	}, opts...)
	cfg := stack.Serve(t)
	return &env{
		srv: stack.Server, hsm: stack.CloudHSM,
		ssm: awsssm.NewFromConfig(cfg), hsmc: hsmv2.NewFromConfig(cfg), secrets: sm.NewFromConfig(cfg),
	}, instances
}

func (e *env) secret(t *testing.T, name, value string) string {
	t.Helper()
	out, err := e.secrets.CreateSecret(context.Background(), &sm.CreateSecretInput{Name: &name, SecretString: &value})
	if err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
	return *out.ARN
}

func (e *env) waitCluster(t *testing.T, id string, cond func(hsmtypes.Cluster) bool) hsmtypes.Cluster {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		out, err := e.hsmc.DescribeClusters(context.Background(), &hsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {id}}})
		if err != nil {
			t.Fatalf("describe: %v", err)
		}
		if cond(out.Clusters[0]) {
			return out.Clusters[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("cluster %s: timed out", id)
	return hsmtypes.Cluster{}
}

// initializedCluster drives a cluster to INITIALIZED over the wire and returns its id, its HSM's
// IP and the CA that signed it.
func (e *env) initializedCluster(t *testing.T) (string, string, *customerca.CA) {
	t.Helper()
	ctx := context.Background()
	cc, err := e.hsmc.CreateCluster(ctx, &hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:]})
	if err != nil {
		t.Fatal(err)
	}
	id := *cc.Cluster.ClusterId
	e.waitCluster(t, id, func(c hsmtypes.Cluster) bool { return c.State == hsmtypes.ClusterStateUninitialized })
	if _, err := e.hsmc.CreateHsm(ctx, &hsmv2.CreateHsmInput{ClusterId: &id, AvailabilityZone: aws.String("us-east-1a")}); err != nil {
		t.Fatal(err)
	}
	c := e.waitCluster(t, id, func(c hsmtypes.Cluster) bool { return c.Certificates != nil && c.Certificates.ClusterCsr != nil })
	ca := sandboxtest.CustomerCA(t)
	signed, err := ca.Issue([]byte(*c.Certificates.ClusterCsr), 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.hsmc.InitializeCluster(ctx, &hsmv2.InitializeClusterInput{ClusterId: &id, SignedCert: aws.String(string(signed)), TrustAnchor: aws.String(string(ca.CertificatePEM()))}); err != nil {
		t.Fatal(err)
	}
	c = e.waitCluster(t, id, func(c hsmtypes.Cluster) bool { return c.State == hsmtypes.ClusterStateInitialized })
	return id, *c.Hsms[0].EniIp, ca
}

// run sends a document and polls until it ends, checking the visibility delay on the way.
func (e *env) run(t *testing.T, doc string, params map[string]string) *awsssm.GetCommandInvocationOutput {
	t.Helper()
	ctx := context.Background()
	p := map[string][]string{}
	for k, v := range params {
		p[k] = []string{v}
	}
	out, err := e.ssm.SendCommand(ctx, &awsssm.SendCommandInput{DocumentName: &doc, InstanceIds: []string{ec2.DefaultInstanceID}, Parameters: p, TimeoutSeconds: aws.Int32(600), Comment: aws.String("strongroom test")})
	if err != nil {
		t.Fatalf("SendCommand %s: %v", doc, err)
	}
	if out.Command.Status != types.CommandStatusPending || *out.Command.DocumentName != doc {
		t.Fatalf("new command: %+v", out.Command)
	}
	id := out.Command.CommandId
	// The script runs for real (bash, the AWS CLI, the stand-in cloudhsm-cli): seconds of wall time
	// on a loaded machine.
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		inv, err := e.ssm.GetCommandInvocation(ctx, &awsssm.GetCommandInvocationInput{CommandId: id, InstanceId: aws.String(ec2.DefaultInstanceID)})
		if err == nil {
			switch inv.Status {
			case types.CommandInvocationStatusPending, types.CommandInvocationStatusInProgress:
				if inv.StandardOutputContent != nil && *inv.StandardOutputContent != "" {
					t.Fatalf("output before the end: %q", *inv.StandardOutputContent)
				}
			default:
				return inv
			}
		} else {
			sandboxtest.WantCode(t, err, "InvocationDoesNotExist")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("command %s did not finish", *id)
	return nil
}

func TestActivateAndManageUsersThroughDocuments(t *testing.T) {
	e := newEnv(t)
	id, ip, ca := e.initializedCluster(t)
	const adminPW, userPW, otherPW = "Adm1nPassw0rdXyz", "Kms5userPassw0rd", "0therPassw0rdAbc"
	adminARN := e.secret(t, "strongroom/admin", adminPW)
	caARN := e.secret(t, "strongroom/ca-cert", string(ca.CertificatePEM()))
	userARN := e.secret(t, "strongroom/kmsuser", userPW)
	otherARN := e.secret(t, "strongroom/other", otherPW)
	wrongCA := sandboxtest.CustomerCA(t)
	wrongCAARN := e.secret(t, "strongroom/wrong-ca", string(wrongCA.CertificatePEM()))
	base := func(caSecret string) map[string]string {
		return map[string]string{"ClusterId": id, "HsmIp": ip, "Region": "us-east-1", "CustomerCaCertSecretArn": caSecret, "AdminPasswordSecretArn": adminARN}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	steps := []struct {
		name, doc  string
		params     map[string]string
		want       types.CommandInvocationStatus
		wantOut    string
		wantErr    string
		afterState string
	}{
		{"activate with the wrong CA", hsmdocs.ActivateCluster, base(wrongCAARN), types.CommandInvocationStatusFailed, "", "does not verify against the installed customer CA certificate", cloudhsm.StateInitialized},
		{"activate through a wrong HSM IP", hsmdocs.ActivateCluster, with(base(caARN), "HsmIp", "10.0.2.99"), types.CommandInvocationStatusFailed, "", "no HSM answered at 10.0.2.99", cloudhsm.StateInitialized},
		{"create kmsuser before activation", hsmdocs.CreateCryptoUser, with(base(caARN), "UserPasswordSecretArn", userARN), types.CommandInvocationStatusFailed, "", "user create kmsuser failed", cloudhsm.StateInitialized},
		{"activate", hsmdocs.ActivateCluster, base(caARN), types.CommandInvocationStatusSuccess, "Cluster activation successful", "", cloudhsm.StateActive},
		{"activate again", hsmdocs.ActivateCluster, base(caARN), types.CommandInvocationStatusSuccess, "already activated", "", cloudhsm.StateActive},
		{"create kmsuser", hsmdocs.CreateCryptoUser, with(base(caARN), "UserPasswordSecretArn", userARN), types.CommandInvocationStatusSuccess, "crypto user kmsuser created", "", cloudhsm.StateActive},
		{"create kmsuser again (retry)", hsmdocs.CreateCryptoUser, with(base(caARN), "UserPasswordSecretArn", userARN), types.CommandInvocationStatusSuccess, "already exists with the password", "", cloudhsm.StateActive},
		{"create kmsuser with another password", hsmdocs.CreateCryptoUser, with(base(caARN), "UserPasswordSecretArn", otherARN), types.CommandInvocationStatusFailed, "", "crypto user kmsuser already exists", cloudhsm.StateActive},
		{"change kmsuser password", hsmdocs.ChangeCryptoUserPassword, with(base(caARN), "UserPasswordSecretArn", otherARN), types.CommandInvocationStatusSuccess, "password of crypto user kmsuser changed", "", cloudhsm.StateActive},
		{"delete kmsuser", hsmdocs.DeleteCryptoUser, base(caARN), types.CommandInvocationStatusSuccess, "crypto user kmsuser deleted", "", cloudhsm.StateActive},
		{"delete kmsuser again", hsmdocs.DeleteCryptoUser, base(caARN), types.CommandInvocationStatusSuccess, "nothing to delete", "", cloudhsm.StateActive},
		{"admin secret missing", hsmdocs.CreateCryptoUser, with(base(caARN), "AdminPasswordSecretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf", "UserPasswordSecretArn", userARN), types.CommandInvocationStatusFailed, "", "cannot read secret", cloudhsm.StateActive},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			inv := e.run(t, st.doc, st.params)
			out, errOut := aws.ToString(inv.StandardOutputContent), aws.ToString(inv.StandardErrorContent)
			if inv.Status != st.want || !strings.Contains(out, st.wantOut) || !strings.Contains(errOut, st.wantErr) {
				t.Fatalf("status %s (%s), code %d\nstdout:\n%s\nstderr:\n%s", inv.Status, aws.ToString(inv.StatusDetails), inv.ResponseCode, out, errOut)
			}
			wantCode := int32(0)
			if st.want != types.CommandInvocationStatusSuccess {
				wantCode = 1
			}
			if inv.ResponseCode != wantCode || aws.ToString(inv.ExecutionEndDateTime) == "" || aws.ToString(inv.PluginName) == "" {
				t.Fatalf("invocation fields: %+v", inv)
			}
			info, _ := e.hsm.Cluster(id)
			if info.State != st.afterState {
				t.Fatalf("cluster state %s, want %s", info.State, st.afterState)
			}
		})
	}
	// The effects are real: the admin password set by the document logs in; kmsuser was deleted.
	if err := e.hsm.Login(id, cloudhsm.Credentials{Role: cloudhsm.RoleAdmin, User: "admin", Password: adminPW}); err != nil {
		t.Fatalf("admin login with the secret's password: %v", err)
	}
	users, _ := e.hsm.Users(id)
	for _, u := range users {
		if u.Name == "kmsuser" {
			t.Fatal("kmsuser still exists")
		}
	}
	// No password reached any request or response outside Secrets Manager's own value channels.
	if leaks := e.srv.Recorder.ScanExcept(sandbox.SecretChannels, adminPW, userPW, otherPW); len(leaks) > 0 {
		t.Fatalf("passwords leaked: %v", leaks)
	}
	list, err := e.ssm.ListCommandInvocations(context.Background(), &awsssm.ListCommandInvocationsInput{InstanceId: aws.String(ec2.DefaultInstanceID), Details: true, MaxResults: aws.Int32(5)})
	if err != nil || len(list.CommandInvocations) != 5 || list.NextToken == nil || len(list.CommandInvocations[0].CommandPlugins) != 1 {
		t.Fatalf("ListCommandInvocations: %v %+v", err, list)
	}
	cmds, err := e.ssm.ListCommands(context.Background(), &awsssm.ListCommandsInput{})
	if err != nil || len(cmds.Commands) != len(steps) || cmds.Commands[0].Status != types.CommandStatusFailed {
		t.Fatalf("ListCommands: %v %d", err, len(cmds.Commands))
	}
}

// TestInvocationIsInvisibleAtFirst uses a long visibility delay so the first
// GetCommandInvocation certainly comes before it ends, at any machine speed.
func TestInvocationIsInvisibleAtFirst(t *testing.T) {
	timings := ssm.DefaultTimings
	timings.Visible = 10 * time.Minute
	timings.Deliver = 11 * time.Minute
	e := newEnv(t, ssm.WithTimings(timings))
	ctx := context.Background()
	out := e.deleteUserOnUnknownCluster(t)
	in := &awsssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ec2.DefaultInstanceID)}
	_, err := e.ssm.GetCommandInvocation(ctx, in)
	sandboxtest.WantCode(t, err, "InvocationDoesNotExist")
	list, err := e.ssm.ListCommandInvocations(ctx, &awsssm.ListCommandInvocationsInput{CommandId: out.Command.CommandId})
	if err != nil || len(list.CommandInvocations) != 0 {
		t.Fatalf("ListCommandInvocations before visibility: %v %d", err, len(list.CommandInvocations))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		inv, err := e.ssm.GetCommandInvocation(ctx, in)
		if err == nil {
			if inv.Status != types.CommandInvocationStatusPending || inv.ResponseCode != -1 {
				t.Fatalf("first visible state: %s %d", inv.Status, inv.ResponseCode)
			}
			return
		}
		sandboxtest.WantCode(t, err, "InvocationDoesNotExist")
		if time.Now().After(deadline) {
			t.Fatal("invocation never became visible")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSendCommandRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	good := unknownClusterUser()
	bad := map[string][]string{}
	for k, v := range good {
		bad[k] = v
	}
	bad["AdminPassword"] = []string{"hunter2hunter2"}
	cases := []struct {
		name, doc, instance string
		params              map[string][]string
		code                string
	}{
		{"unknown instance", hsmdocs.ActivateCluster, "i-0123456789abcdef0", good, "InvalidInstanceId"},
		{"unknown document", "AWS-RunShellScript", ec2.DefaultInstanceID, map[string][]string{"commands": {"id"}}, "InvalidDocument"},
		{"undeclared parameter", hsmdocs.ActivateCluster, ec2.DefaultInstanceID, bad, "InvalidParameters"},
		{"missing parameter", hsmdocs.ActivateCluster, ec2.DefaultInstanceID, map[string][]string{"ClusterId": {"cluster-abcdefghij2"}}, "InvalidParameters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.ssm.SendCommand(ctx, &awsssm.SendCommandInput{DocumentName: &tc.doc, InstanceIds: []string{tc.instance}, Parameters: tc.params})
			sandboxtest.WantCode(t, err, tc.code)
		})
	}
	_, err := e.ssm.GetCommandInvocation(ctx, &awsssm.GetCommandInvocationInput{CommandId: aws.String("bogus"), InstanceId: aws.String(ec2.DefaultInstanceID)})
	sandboxtest.WantCode(t, err, "InvalidCommandId")
}

func TestDocumentsRegisteredByCDK(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	content, _ := hsmdocs.Content(hsmdocs.DeleteCryptoUser)
	created, err := e.ssm.CreateDocument(ctx, &awsssm.CreateDocumentInput{Name: aws.String("StrongroomStack-DeleteUserDoc-1A2B3C"), Content: &content, DocumentType: types.DocumentTypeCommand})
	if err != nil {
		t.Fatalf("CreateDocument: %v", err)
	}
	d := created.DocumentDescription
	if d.Status != types.DocumentStatusActive || *d.SchemaVersion != "2.2" || len(d.Parameters) != 6 {
		t.Fatalf("description: %+v", d)
	}
	_, err = e.ssm.CreateDocument(ctx, &awsssm.CreateDocumentInput{Name: aws.String("StrongroomStack-DeleteUserDoc-1A2B3C"), Content: &content})
	sandboxtest.WantCode(t, err, "DocumentAlreadyExists")
	_, err = e.ssm.CreateDocument(ctx, &awsssm.CreateDocumentInput{Name: aws.String("broken"), Content: aws.String("schemaVersion: '2.2'")})
	sandboxtest.WantCode(t, err, "InvalidDocumentContent")
	got, err := e.ssm.GetDocument(ctx, &awsssm.GetDocumentInput{Name: aws.String("StrongroomStack-DeleteUserDoc-1A2B3C")})
	if err != nil || *got.Content != content {
		t.Fatalf("GetDocument: %v", err)
	}
	desc, err := e.ssm.DescribeDocument(ctx, &awsssm.DescribeDocumentInput{Name: aws.String(hsmdocs.ActivateCluster)})
	if err != nil || *desc.Document.Name != hsmdocs.ActivateCluster {
		t.Fatalf("DescribeDocument built-in: %v", err)
	}
	_, err = e.ssm.DescribeDocument(ctx, &awsssm.DescribeDocumentInput{Name: aws.String("nope")})
	sandboxtest.WantCode(t, err, "InvalidDocument")

	// The CDK-named copy runs as Strongroom's document: it gets as far as reaching the cluster.
	inv := e.run(t, "StrongroomStack-DeleteUserDoc-1A2B3C", map[string]string{
		"ClusterId": "cluster-abcdefghij2", "HsmIp": "10.0.0.5", "Region": "us-east-1",
		"CustomerCaCertSecretArn": e.secret(t, "ca", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
		"AdminPasswordSecretArn":  e.secret(t, "admin", "Adm1nPassw0rdXyz"),
	})
	if inv.Status != types.CommandInvocationStatusFailed || !strings.Contains(aws.ToString(inv.StandardErrorContent), "no HSM answered at 10.0.0.5") {
		t.Fatalf("CDK-named document: %s %q", inv.Status, aws.ToString(inv.StandardErrorContent))
	}
}

// TestAnyShellDocumentRunsAsTheAgentRunsIt: the instance knows no document; it runs whatever
// script a document holds, with SSM's parameter substitution, exit code, output limits and
// execution timeout.
func TestAnyShellDocumentRunsAsTheAgentRunsIt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	register := func(name, timeout string, lines ...string) {
		t.Helper()
		doc := map[string]any{"schemaVersion": "2.2", "description": "test", "parameters": map[string]any{"Word": map[string]any{"type": "String", "default": "plain"}},
			"mainSteps": []any{map[string]any{"action": "aws:runShellScript", "name": "run", "inputs": map[string]any{"timeoutSeconds": timeout, "runCommand": lines}}}}
		b, _ := json.Marshal(doc)
		if _, err := e.ssm.CreateDocument(ctx, &awsssm.CreateDocumentInput{Name: aws.String(name), Content: aws.String(string(b))}); err != nil {
			t.Fatal(err)
		}
	}
	register("Echo-Doc", "60", "#!/bin/bash", `echo "word={{ Word }} shell=$BASH_VERSION home=$HOME"`, "echo to-stderr >&2", "exit 3")
	inv := e.run(t, "Echo-Doc", map[string]string{"Word": "substituted"})
	out, errOut := aws.ToString(inv.StandardOutputContent), aws.ToString(inv.StandardErrorContent)
	if inv.Status != types.CommandInvocationStatusFailed || inv.ResponseCode != 3 || !strings.Contains(out, "word=substituted shell=5") ||
		!strings.Contains(out, "/root") || strings.TrimSpace(errOut) != "to-stderr" {
		t.Fatalf("status %s code %d\nstdout %q\nstderr %q", inv.Status, inv.ResponseCode, out, errOut)
	}

	register("Loud-Doc", "60", "head -c 30000 /dev/zero | tr '\\0' o", "head -c 9000 /dev/zero | tr '\\0' e >&2")
	inv = e.run(t, "Loud-Doc", nil)
	if inv.Status != types.CommandInvocationStatusSuccess || len(aws.ToString(inv.StandardOutputContent)) != 24000 || len(aws.ToString(inv.StandardErrorContent)) != 8000 {
		t.Fatalf("status %s, stdout %d and stderr %d characters; want Success and SSM's limits 24000 and 8000", inv.Status, len(aws.ToString(inv.StandardOutputContent)), len(aws.ToString(inv.StandardErrorContent)))
	}

	register("Slow-Doc", "1", "echo started", "sleep 30", "echo never")
	start := time.Now()
	inv = e.run(t, "Slow-Doc", nil)
	if inv.Status != types.CommandInvocationStatusTimedOut || aws.ToString(inv.StatusDetails) != "Execution Timed Out" || !strings.Contains(aws.ToString(inv.StandardOutputContent), "started") ||
		strings.Contains(aws.ToString(inv.StandardOutputContent), "never") || time.Since(start) > 20*time.Second {
		t.Fatalf("status %s (%s) after %v, stdout %q; want TimedOut after the step's 1 s", inv.Status, aws.ToString(inv.StatusDetails), time.Since(start), aws.ToString(inv.StandardOutputContent))
	}
}

// TestUndeliverableCommandTimesOut stops the instance after SendCommand: the invocation stays
// Pending until TimeoutSeconds, then ends TimedOut with "Delivery Timed Out".
func TestUndeliverableCommandTimesOut(t *testing.T) {
	// Delivery 10 sandbox minutes after SendCommand (200 ms of wall time): the instance is
	// stopped well before; the delivery timeout is an hour (1.2 s).
	timings := ssm.DefaultTimings
	timings.Deliver = 10 * time.Minute
	e, instances := newEnvWithInstances(t, ssm.WithTimings(timings))
	ctx := context.Background()
	out, err := e.ssm.SendCommand(ctx, &awsssm.SendCommandInput{DocumentName: aws.String(hsmdocs.DeleteCryptoUser), InstanceIds: []string{ec2.DefaultInstanceID}, TimeoutSeconds: aws.Int32(3600), Parameters: map[string][]string{
		"ClusterId": {"cluster-abcdefghij2"}, "HsmIp": {"10.0.0.5"}, "Region": {"us-east-1"},
		"CustomerCaCertSecretArn": {"arn:aws:secretsmanager:us-east-1:123456789012:secret:ca-AbCdEf"},
		"AdminPasswordSecretArn":  {"arn:aws:secretsmanager:us-east-1:123456789012:secret:admin-AbCdEf"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	instances.stopped.Store(true)
	in := &awsssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ec2.DefaultInstanceID)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		inv, err := e.ssm.GetCommandInvocation(ctx, in)
		if err == nil && inv.Status == types.CommandInvocationStatusTimedOut {
			if aws.ToString(inv.StatusDetails) != "Delivery Timed Out" || inv.ResponseCode != -1 {
				t.Fatalf("timed out invocation: %s %d", aws.ToString(inv.StatusDetails), inv.ResponseCode)
			}
			return
		}
		if err == nil && inv.Status != types.CommandInvocationStatusPending {
			t.Fatalf("undeliverable command reached %s", inv.Status)
		}
		if time.Now().After(deadline) {
			t.Fatal("never timed out")
		}
		time.Sleep(3 * time.Millisecond)
	}
}

// TestCancelledCommandNeverRuns cancels a command before delivery: it ends Cancelled and its
// script never runs (it would have failed on the unknown cluster).
func TestCancelledCommandNeverRuns(t *testing.T) {
	timings := ssm.DefaultTimings
	timings.Deliver = 10 * time.Minute // 200 ms of wall time at the test scale
	e := newEnv(t, ssm.WithTimings(timings))
	ctx := context.Background()
	out := e.deleteUserOnUnknownCluster(t)
	if _, err := e.ssm.CancelCommand(ctx, &awsssm.CancelCommandInput{CommandId: out.Command.CommandId}); err != nil {
		t.Fatalf("CancelCommand: %v", err)
	}
	_, err := e.ssm.CancelCommand(ctx, &awsssm.CancelCommandInput{CommandId: aws.String("00000000-0000-0000-0000-000000000000")})
	sandboxtest.WantCode(t, err, "InvalidCommandId")
	// Past delivery and the run time, the invocation is still Cancelled with no output.
	e.srv.Clock.Sleep(ctx, timings.Deliver+timings.Run+time.Minute)
	inv, err := e.ssm.GetCommandInvocation(ctx, &awsssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ec2.DefaultInstanceID)})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Status != types.CommandInvocationStatusCancelled || aws.ToString(inv.StandardErrorContent) != "" || inv.ResponseCode != -1 {
		t.Fatalf("cancelled invocation: %s %q %d", inv.Status, aws.ToString(inv.StandardErrorContent), inv.ResponseCode)
	}
	cmds, err := e.ssm.ListCommands(ctx, &awsssm.ListCommandsInput{CommandId: out.Command.CommandId})
	if err != nil || cmds.Commands[0].Status != types.CommandStatusCancelled {
		t.Fatalf("command status: %v %+v", err, cmds)
	}
}

// unknownClusterUser are valid parameters of hsmdocs.DeleteCryptoUser for a cluster that does not
// exist: SendCommand takes them, and the script fails when it runs.
func unknownClusterUser() map[string][]string {
	return map[string][]string{
		"ClusterId": {"cluster-abcdefghij2"}, "HsmIp": {"10.0.0.5"}, "Region": {"us-east-1"},
		"CustomerCaCertSecretArn": {"arn:aws:secretsmanager:us-east-1:123456789012:secret:ca-AbCdEf"},
		"AdminPasswordSecretArn":  {"arn:aws:secretsmanager:us-east-1:123456789012:secret:admin-AbCdEf"},
	}
}

// deleteUserOnUnknownCluster sends hsmdocs.DeleteCryptoUser with unknownClusterUser to the
// client instance, for tests of delivery and timing.
func (e *env) deleteUserOnUnknownCluster(t *testing.T) *awsssm.SendCommandOutput {
	t.Helper()
	out, err := e.ssm.SendCommand(context.Background(), &awsssm.SendCommandInput{
		DocumentName: aws.String(hsmdocs.DeleteCryptoUser), InstanceIds: []string{ec2.DefaultInstanceID}, Parameters: unknownClusterUser(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInstanceAWSCLIRunsAlike: the instance's `aws` answers the same through the sandbox's AWS
// CLI server as when it starts the CLI itself (the variable emptied): output, errors and exit
// codes of a read, a missing secret and a refused argument.
func TestInstanceAWSCLIRunsAlike(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	arn := e.secret(t, "alike", "s3cretValue")
	lines := []string{"#!/bin/bash", `test -S "$STRONGROOM_SANDBOX_AWS_CLI_SERVER" || { echo "no AWS CLI server" >&2; exit 9; }`}
	for _, args := range []string{
		"secretsmanager get-secret-value --secret-id " + arn + " --query SecretString --output text",
		"secretsmanager get-secret-value --secret-id arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
		"secretsmanager get-secret-value --no-such-flag",
	} {
		for _, how := range []string{"served", "started"} {
			prefix := ""
			if how == "started" {
				prefix = "STRONGROOM_SANDBOX_AWS_CLI_SERVER= "
			}
			lines = append(lines, "set +e", prefix+"aws "+args+" > out 2> err; code=$?", "set -e",
				`echo "`+how+` code=$code out=$(tr "\n" " " < out) err=$(tr "\n" "~" < err)"`)
		}
	}
	doc := map[string]any{"schemaVersion": "2.2", "description": "test", "mainSteps": []any{map[string]any{"action": "aws:runShellScript", "name": "run", "inputs": map[string]any{"timeoutSeconds": "120", "runCommand": lines}}}}
	b, _ := json.Marshal(doc)
	if _, err := e.ssm.CreateDocument(ctx, &awsssm.CreateDocumentInput{Name: aws.String("Cli-Alike"), Content: aws.String(string(b))}); err != nil {
		t.Fatal(err)
	}
	inv := e.run(t, "Cli-Alike", nil)
	out := strings.Split(strings.TrimSpace(aws.ToString(inv.StandardOutputContent)), "\n")
	if inv.Status != types.CommandInvocationStatusSuccess || len(out) != 6 {
		t.Fatalf("status %s\nstdout %q\nstderr %q", inv.Status, out, aws.ToString(inv.StandardErrorContent))
	}
	wants := []string{"code=0 out=s3cretValue", "code=254 out= err=", "code=252 out= err="}
	for i := 0; i < 6; i += 2 {
		served, started := strings.TrimPrefix(out[i], "served "), strings.TrimPrefix(out[i+1], "started ")
		if served != started || !strings.HasPrefix(served, wants[i/2]) {
			t.Errorf("case %d: served %q\nstarted %q\nwant both equal, starting %q", i/2, served, started, wants[i/2])
		}
	}
}

// TestCustomerCAIsReadOncePerClusterAndSecret: the documents read the customer CA certificate's
// secret the first time, skip the read while the instance holds the certificate it installed for
// that cluster and secret, and read it again once the file changed or another secret is named.
func TestCustomerCAIsReadOncePerClusterAndSecret(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id, ip, ca := e.initializedCluster(t)
	params := map[string]string{"ClusterId": id, "HsmIp": ip, "Region": "us-east-1",
		"CustomerCaCertSecretArn": e.secret(t, "strongroom/ca-cert", string(ca.CertificatePEM())),
		"AdminPasswordSecretArn":  e.secret(t, "strongroom/admin", "Adm1nPassw0rdXyz")}
	tamper := map[string]any{"schemaVersion": "2.2", "description": "test", "mainSteps": []any{map[string]any{"action": "aws:runShellScript", "name": "run",
		"inputs": map[string]any{"timeoutSeconds": "60", "runCommand": []string{`echo "# changed" >> "$CLOUDHSM_HOME/etc/customerCA.crt"`}}}}}
	b, _ := json.Marshal(tamper)
	if _, err := e.ssm.CreateDocument(ctx, &awsssm.CreateDocumentInput{Name: aws.String("Tamper-CA"), Content: aws.String(string(b))}); err != nil {
		t.Fatal(err)
	}
	other := e.secret(t, "strongroom/ca-cert-copy", string(ca.CertificatePEM()))
	for i, st := range []struct {
		before func()
		caARN  string
		want   string
	}{
		{nil, params["CustomerCaCertSecretArn"], "installed the customer CA certificate at"},
		{nil, params["CustomerCaCertSecretArn"], "is installed at"},
		{func() { e.run(t, "Tamper-CA", nil) }, params["CustomerCaCertSecretArn"], "installed the customer CA certificate at"},
		{nil, other, "installed the customer CA certificate at"},
		{nil, other, "is installed at"},
	} {
		if st.before != nil {
			st.before()
		}
		p := maps.Clone(params)
		p["CustomerCaCertSecretArn"] = st.caARN
		reads := e.srv.Recorder.Count("secretsmanager", "GetSecretValue")
		inv := e.run(t, hsmdocs.ActivateCluster, p)
		out := aws.ToString(inv.StandardOutputContent)
		if inv.Status != types.CommandInvocationStatusSuccess || !strings.Contains(out, st.want) {
			t.Fatalf("run %d: %s, want stdout with %q\nstdout %s\nstderr %s", i, inv.Status, st.want, out, aws.ToString(inv.StandardErrorContent))
		}
		// Every run reads the admin password; a run that installs the certificate reads its secret too.
		wantReads := 1
		if strings.HasPrefix(st.want, "installed") {
			wantReads = 2
		}
		if got := e.srv.Recorder.Count("secretsmanager", "GetSecretValue") - reads; got != wantReads {
			t.Errorf("run %d: %d GetSecretValue calls, want %d", i, got, wantReads)
		}
	}
}

// TestInstanceCallsCarryTheInstanceRole: the instance's AWS CLI signs with the credentials of the
// instance's role session, so its calls name the instance (sandbox.InstancePrincipal) and a fault
// aimed at them meets them alone; the CLI's own retries (AWS_MAX_ATTEMPTS in the documents'
// prologue) absorb two throttled reads.
func TestInstanceCallsCarryTheInstanceRole(t *testing.T) {
	e := newEnv(t)
	id, ip, ca := e.initializedCluster(t)
	params := map[string]string{"ClusterId": id, "HsmIp": ip, "Region": "us-east-1",
		"CustomerCaCertSecretArn": e.secret(t, "strongroom/ca-cert", string(ca.CertificatePEM())),
		"AdminPasswordSecretArn":  e.secret(t, "strongroom/admin", "Adm1nPassw0rdXyz")}
	instance := sandbox.InstancePrincipal(ec2.DefaultInstanceID)
	elsewhere, err := e.srv.Faults.Add(sandbox.Fault{Service: "secretsmanager", Operation: "GetSecretValue", Caller: "some-function", Kind: sandbox.FaultError, Code: "AccessDeniedException"})
	if err != nil {
		t.Fatal(err)
	}
	aimed, err := e.srv.Faults.Add(sandbox.Fault{Service: "secretsmanager", Operation: "GetSecretValue", Caller: instance, Kind: sandbox.FaultThrottle, Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	before := len(e.srv.Recorder.Records("secretsmanager", "GetSecretValue"))
	inv := e.run(t, hsmdocs.ActivateCluster, params)
	if inv.Status != types.CommandInvocationStatusSuccess {
		t.Fatalf("status %s, want Success after two throttled reads\nstderr %s", inv.Status, aws.ToString(inv.StandardErrorContent))
	}
	hits := map[int]int{}
	for _, f := range e.srv.Faults.List() {
		hits[f.ID] = f.Hits
	}
	if hits[aimed] != 2 || hits[elsewhere] != 0 {
		t.Errorf("the instance's fault hit %d calls (want 2), another caller's %d (want 0)", hits[aimed], hits[elsewhere])
	}
	recs := e.srv.Recorder.Records("secretsmanager", "GetSecretValue")[before:]
	if len(recs) < 4 { // two reads (CA, admin password), two of their attempts throttled
		t.Errorf("%d GetSecretValue calls, want at least 4", len(recs))
	}
	for _, r := range recs {
		if r.Caller != instance {
			t.Errorf("GetSecretValue recorded with caller %q, want %q", r.Caller, instance)
		}
	}
}
