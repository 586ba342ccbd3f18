// Package keystoretest stands Custom::CloudHsmKeyStore up in a sandbox exactly as the CDK construct
// (infra/keystore) deploys it, without a synthesized template: the real lambdas/<name> mains built
// for the host and registered as sandbox Lambda functions with the construct's environment, the
// four state machines from statemachines/ with the construct's DefinitionSubstitutions, the three
// kmsuser documents (pkg/hsmdocs) created through SSM, and the safety-net rule. It also carries a
// CloudHSM cluster through the documented runbook to ACTIVE (ActiveCluster), over the real APIs.
//
// It is test support for the key store's end-to-end, fault and crash tests, and for the demo; it is not
// used in production.
package keystoretest

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/strongroom/strongroom/pkg/hsmcluster/ingress"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	hsmtypes "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/strongroom/strongroom/pkg/customerca"
	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/resourcedef"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/stacktest"
)

// Functions are every Lambda of the resource.
func Functions() []string { return resourcedef.KeyStore.FunctionNames() }

// Cluster is an ACTIVE cluster made through the runbook.
type Cluster struct {
	ID                 string
	AdminSecretARN     string
	CACertSecretARN    string
	HsmIPs             []string
	HsmIDs             []string
	CACertificatePEM   string
	documentParameters map[string]string
}

// ActiveCluster runs the documented runbook over the real APIs: CreateCluster, the first HSM,
// the customer CA signs the CSR, InitializeCluster, activation through the SSM document (with the
// admin password read from Secrets Manager on the instance), then hsms-1 more HSMs in other zones.
// prefix names its secrets. It polls on the wall clock for at most two minutes.
func ActiveCluster(ctx context.Context, cfg aws.Config, prefix string, hsms int) (*Cluster, error) {
	hsm := cloudhsmv2.NewFromConfig(cfg)
	sm := secretsmanager.NewFromConfig(cfg)
	cc, err := hsm.CreateCluster(ctx, &cloudhsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:]})
	if err != nil {
		return nil, fmt.Errorf("create cluster: %w", err)
	}
	c := &Cluster{ID: aws.ToString(cc.Cluster.ClusterId)}
	wait := func(what string, ok func(hsmtypes.Cluster) bool) (hsmtypes.Cluster, error) {
		deadline := time.Now().Add(2 * time.Minute)
		for {
			out, err := hsm.DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {c.ID}}})
			if err != nil {
				return hsmtypes.Cluster{}, fmt.Errorf("describe cluster %s: %w", c.ID, err)
			}
			if len(out.Clusters) == 1 && ok(out.Clusters[0]) {
				return out.Clusters[0], nil
			}
			if time.Now().After(deadline) {
				return hsmtypes.Cluster{}, fmt.Errorf("cluster %s: timed out waiting for %s", c.ID, what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, err := wait("UNINITIALIZED", func(x hsmtypes.Cluster) bool { return x.State == hsmtypes.ClusterStateUninitialized }); err != nil {
		return nil, err
	}
	if _, err := hsm.CreateHsm(ctx, &cloudhsmv2.CreateHsmInput{ClusterId: aws.String(c.ID), AvailabilityZone: aws.String("us-east-1a")}); err != nil {
		return nil, fmt.Errorf("create the first HSM: %w", err)
	}
	x, err := wait("the CSR", func(x hsmtypes.Cluster) bool {
		return x.Certificates != nil && aws.ToString(x.Certificates.ClusterCsr) != ""
	})
	if err != nil {
		return nil, err
	}
	key, err := customerca.NewKey(customerca.RSA2048)
	if err != nil {
		return nil, err
	}
	ca, err := customerca.NewCA(key, customerca.Options{})
	if err != nil {
		return nil, err
	}
	signed, err := ca.Issue([]byte(aws.ToString(x.Certificates.ClusterCsr)), 0, time.Now())
	if err != nil {
		return nil, fmt.Errorf("sign the cluster CSR: %w", err)
	}
	c.CACertificatePEM = string(ca.CertificatePEM())
	if _, err := hsm.InitializeCluster(ctx, &cloudhsmv2.InitializeClusterInput{ClusterId: aws.String(c.ID), SignedCert: aws.String(string(signed)), TrustAnchor: aws.String(c.CACertificatePEM)}); err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	if _, err := wait("INITIALIZED", func(x hsmtypes.Cluster) bool { return x.State == hsmtypes.ClusterStateInitialized }); err != nil {
		return nil, err
	}
	pw, err := sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{PasswordLength: aws.Int64(32), ExcludePunctuation: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	admin, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(prefix + "/admin-password"), SecretString: pw.RandomPassword})
	if err != nil {
		return nil, fmt.Errorf("create the admin password secret: %w", err)
	}
	cert, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(prefix + "/customer-ca/certificate"), SecretString: aws.String(c.CACertificatePEM)})
	if err != nil {
		return nil, fmt.Errorf("create the CA certificate secret: %w", err)
	}
	c.AdminSecretARN, c.CACertSecretARN = aws.ToString(admin.ARN), aws.ToString(cert.ARN)
	c.documentParameters = map[string]string{
		"ClusterId": c.ID, "HsmIp": aws.ToString(x.Hsms[0].EniIp), "Region": cfg.Region,
		"AdminPasswordSecretArn": c.AdminSecretARN, "CustomerCaCertSecretArn": c.CACertSecretARN,
	}
	// The runbook's "connect the client instance to the cluster": CloudHSM's group for the cluster
	// lets in only itself, so the instance's groups are let in first (as the workflow does).
	allow := &ingress.AllowClient{EC2: awsec2.NewFromConfig(cfg)}
	if _, err := allow.Handle(ctx, ingress.Input{ClusterID: c.ID, SecurityGroup: aws.ToString(x.SecurityGroup), InstanceID: ec2.DefaultInstanceID}); err != nil {
		return nil, fmt.Errorf("let the client instance reach the HSMs: %w", err)
	}
	if err := RunDocument(ctx, cfg, hsmdocs.ActivateCluster, c.documentParameters); err != nil {
		return nil, err
	}
	if _, err := wait("ACTIVE", func(x hsmtypes.Cluster) bool { return x.State == hsmtypes.ClusterStateActive }); err != nil {
		return nil, err
	}
	for _, az := range []string{"us-east-1b", "us-east-1c"}[:hsms-1] {
		if _, err := hsm.CreateHsm(ctx, &cloudhsmv2.CreateHsmInput{ClusterId: aws.String(c.ID), AvailabilityZone: aws.String(az)}); err != nil {
			return nil, fmt.Errorf("create an HSM in %s: %w", az, err)
		}
	}
	x, err = wait(fmt.Sprintf("%d ACTIVE HSMs", hsms), func(x hsmtypes.Cluster) bool {
		n := 0
		for _, h := range x.Hsms {
			if h.State == hsmtypes.HsmStateActive {
				n++
			}
		}
		return n == hsms && len(x.Hsms) == hsms
	})
	if err != nil {
		return nil, err
	}
	for _, h := range x.Hsms {
		c.HsmIPs = append(c.HsmIPs, aws.ToString(h.EniIp))
		c.HsmIDs = append(c.HsmIDs, aws.ToString(h.HsmId))
	}
	return c, nil
}

// UserDocument runs a kmsuser document (hsmdocs.CreateCryptoUser, DeleteCryptoUser or
// ChangeCryptoUserPassword) as an operator would, with the password from passwordSecretARN.
func (c *Cluster) UserDocument(ctx context.Context, cfg aws.Config, doc, passwordSecretARN string) error {
	p := map[string]string{"UserName": "kmsuser"}
	for k, v := range c.documentParameters {
		p[k] = v
	}
	if passwordSecretARN != "" {
		p["UserPasswordSecretArn"] = passwordSecretARN
	}
	return RunDocument(ctx, cfg, doc, p)
}

// RunDocument sends a Strongroom document to the client instance and waits until it succeeds.
func RunDocument(ctx context.Context, cfg aws.Config, doc string, params map[string]string) error {
	api := ssm.NewFromConfig(cfg)
	p := map[string][]string{}
	for k, v := range params {
		p[k] = []string{v}
	}
	out, err := api.SendCommand(ctx, &ssm.SendCommandInput{DocumentName: aws.String(doc), InstanceIds: []string{ec2.DefaultInstanceID}, Parameters: p})
	if err != nil {
		return fmt.Errorf("send %s: %w", doc, err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		inv, err := api.GetCommandInvocation(ctx, &ssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ec2.DefaultInstanceID)})
		var notYet *ssmtypes.InvocationDoesNotExist
		switch {
		case errors.As(err, &notYet):
		case err != nil:
			return fmt.Errorf("%s: %w", doc, err)
		case inv.Status == ssmtypes.CommandInvocationStatusSuccess:
			return nil
		case inv.Status != ssmtypes.CommandInvocationStatusPending && inv.Status != ssmtypes.CommandInvocationStatusInProgress && inv.Status != ssmtypes.CommandInvocationStatusDelayed:
			return fmt.Errorf("%s ended %s: %s", doc, inv.Status, aws.ToString(inv.StandardErrorContent))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s: timed out", doc)
}

// OperatorSecretPrefix names the secrets a test makes for an operator's own run of a kmsuser
// document (Cluster.UserDocument): the client instance's role reads them, as an operator who runs
// documents with their own secret would grant.
const OperatorSecretPrefix = "operator/"

// Options adjust a deployment: its stack name (default "strongroom-keystore-e2e"), construct id
// (default "KeyStore", the logical id the tests give the resource) and extra environment per
// function (for example a crash hook).
type Options = stacktest.DeployOptions

// Deployment is the construct standing in one sandbox, with the key store's own helpers.
type Deployment struct{ *stacktest.Deployment }

// Deploy registers everything the construct declares, from pkg/resourcedef's KeyStore, for a
// store on cluster c: its inputs are c's CA certificate secret (c's secrets are encrypted with
// Secrets Manager's AWS managed key, so no cluster secrets key is an input), and the client
// instance's role also reads c's admin password and CA certificate, as the cluster's stack grants
// on AWS, and the secrets under OperatorSecretPrefix. logs receives every function's output (pass a Recorder.Writer so secret scans cover it).
func Deploy(ctx context.Context, sb *sandbox.Sandbox, cfg aws.Config, c *Cluster, bins map[string]string, logs io.Writer, o Options) (*Deployment, error) {
	o.StackName = cmp.Or(o.StackName, "strongroom-keystore-e2e")
	o.ConstructID = cmp.Or(o.ConstructID, "KeyStore")
	o.Inputs = map[string][]string{
		resourcedef.InputCACertificateSecret: {c.CACertSecretARN},
		resourcedef.InputClusterSecretsKeys:  {},
		"ClusterAdminPasswordSecret":         {c.AdminSecretARN},
		"OperatorSecrets":                    {"arn:aws:secretsmanager:" + sb.Region + ":" + sb.Account + ":secret:" + OperatorSecretPrefix + "*"},
	}
	o.Instance = append(o.Instance, resourcedef.Grant{Actions: []string{"secretsmanager:GetSecretValue"},
		On: []resourcedef.Ref{{Kind: resourcedef.Input, Arg: "ClusterAdminPasswordSecret"}, {Kind: resourcedef.Input, Arg: resourcedef.InputCACertificateSecret},
			{Kind: resourcedef.Input, Arg: "OperatorSecrets"}}})
	d, err := stacktest.Deploy(ctx, sb, cfg, resourcedef.KeyStore, bins, logs, o)
	if err != nil {
		return nil, err
	}
	return &Deployment{d}, nil
}

// SecretName is the kmsuser password secret the construct names for logicalID.
func (d *Deployment) SecretName(logicalID string) string {
	return "strongroom/" + d.StackName + "/" + logicalID + "/kmsuser-password"
}

// Properties are the construct's properties for a store named name on cluster c.
func (d *Deployment) Properties(c *Cluster, logicalID, name string, deleteOnStackDeletion bool) map[string]any {
	return map[string]any{
		"ClusterId": c.ID, "KeyStoreName": name, "AdminPasswordSecretArn": c.AdminSecretARN,
		"CustomerCaCertificateSecretArn": c.CACertSecretARN, "ClientInstanceId": ec2.DefaultInstanceID,
		"KmsUserPasswordSecretName":     d.SecretName(logicalID),
		"DeleteKeyStoreOnStackDeletion": strconv.FormatBool(deleteOnStackDeletion),
	}
}

// Rotate runs the rotate-password workflow for store and waits (wall clock, at most two minutes)
// for it to end; it returns the execution's status, output and cause.
func (d *Deployment) Rotate(ctx context.Context, store string, props map[string]any) (status, output, cause string, err error) {
	in, _ := json.Marshal(map[string]any{"Rotation": map[string]any{"CustomKeyStoreId": store, "Properties": props}})
	sf := sfn.NewFromConfig(d.Cfg)
	out, err := sf.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(d.Machines["Rotate"]), Input: aws.String(string(in))})
	if err != nil {
		return "", "", "", err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		e, err := sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		if err != nil {
			return "", "", "", err
		}
		if e.Status != "RUNNING" {
			return string(e.Status), aws.ToString(e.Output), aws.ToString(e.Cause), nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", "", "", errors.New("rotation: timed out")
}
