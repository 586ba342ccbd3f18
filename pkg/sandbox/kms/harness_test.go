package kms_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	hsmv2 "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	hsmtypes "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/strongroom/strongroom/pkg/customerca"
	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/kms"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// scale runs a cluster's 20 sandbox minutes to two ACTIVE HSMs in under half a second.
const scale = 3000

// env is the HSM part of the sandbox (EC2, Secrets Manager, CloudHSM, SSM, KMS) on one server,
// with real SDK clients.
type env struct {
	srv     *sandbox.Server
	hsm     *cloudhsm.Service
	kms     *kms.Service
	hsmc    *hsmv2.Client
	ssmc    *awsssm.Client
	kmsc    *awskms.Client
	secrets *sm.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	stack := sandboxtest.NewHSMStack(scale, nil)
	kmsSvc := kms.New(stack.Server.Clock, stack.CloudHSM)
	stack.Server.RegisterJSON(kmsSvc)
	cfg := stack.Serve(t, kmsSvc.Close)
	return &env{
		srv: stack.Server, hsm: stack.CloudHSM, kms: kmsSvc,
		hsmc: hsmv2.NewFromConfig(cfg), ssmc: awsssm.NewFromConfig(cfg), kmsc: awskms.NewFromConfig(cfg), secrets: sm.NewFromConfig(cfg),
	}
}

// poll calls f until it returns true, for at most 60 s of wall time (a document runs real bash
// and the AWS CLI, which take seconds on a loaded machine).
func poll(t testing.TB, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func (e *env) cluster(t testing.TB, id string) hsmtypes.Cluster {
	t.Helper()
	out, err := e.hsmc.DescribeClusters(context.Background(), &hsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {id}}})
	if err != nil || len(out.Clusters) != 1 {
		t.Fatalf("describe cluster %s: %v", id, err)
	}
	return out.Clusters[0]
}

func (e *env) waitCluster(t testing.TB, id, what string, cond func(hsmtypes.Cluster) bool) hsmtypes.Cluster {
	t.Helper()
	var c hsmtypes.Cluster
	poll(t, "cluster "+what, func() bool { c = e.cluster(t, id); return cond(c) })
	return c
}

// waitState waits for the cluster to reach state (a hsmtypes.ClusterState value).
func (e *env) waitState(t testing.TB, id string, state hsmtypes.ClusterState) {
	t.Helper()
	e.waitCluster(t, id, string(state), func(c hsmtypes.Cluster) bool { return c.State == state })
}

// addHsm asks for one more HSM in the cluster, in az; the caller waits for it.
func (e *env) addHsm(t testing.TB, id, az string) {
	t.Helper()
	if _, err := e.hsmc.CreateHsm(context.Background(), &hsmv2.CreateHsmInput{ClusterId: &id, AvailabilityZone: aws.String(az)}); err != nil {
		t.Fatalf("CreateHsm %s: %v", az, err)
	}
}

// deleteCluster tears a cluster down as AWS requires: its HSMs first, then the cluster, waiting
// until it is DELETED.
func (e *env) deleteCluster(t testing.TB, id string) {
	t.Helper()
	ctx := context.Background()
	for _, h := range e.cluster(t, id).Hsms {
		if _, err := e.hsmc.DeleteHsm(ctx, &hsmv2.DeleteHsmInput{ClusterId: &id, HsmId: h.HsmId}); err != nil {
			t.Fatalf("DeleteHsm: %v", err)
		}
	}
	e.waitCluster(t, id, "no HSMs", func(c hsmtypes.Cluster) bool { return len(c.Hsms) == 0 })
	if _, err := e.hsmc.DeleteCluster(ctx, &hsmv2.DeleteClusterInput{ClusterId: &id}); err != nil {
		t.Fatalf("DeleteCluster: %v", err)
	}
	e.waitState(t, id, hsmtypes.ClusterStateDeleted)
}

func activeHsms(n int) func(hsmtypes.Cluster) bool {
	return func(c hsmtypes.Cluster) bool {
		active := 0
		for _, h := range c.Hsms {
			if h.State == hsmtypes.HsmStateActive {
				active++
			}
		}
		return active == n && len(c.Hsms) == n
	}
}

func (e *env) secret(t testing.TB, name, value string) string {
	t.Helper()
	out, err := e.secrets.CreateSecret(context.Background(), &sm.CreateSecretInput{Name: &name, SecretString: &value})
	if err != nil {
		t.Fatalf("create secret %s: %v", name, err)
	}
	return *out.ARN
}

// runDoc sends a Strongroom document to the client instance and waits for it to end.
func (e *env) runDoc(t testing.TB, doc string, params map[string]string) *awsssm.GetCommandInvocationOutput {
	t.Helper()
	ctx := context.Background()
	p := map[string][]string{}
	for k, v := range params {
		p[k] = []string{v}
	}
	out, err := e.ssmc.SendCommand(ctx, &awsssm.SendCommandInput{DocumentName: &doc, InstanceIds: []string{ec2.DefaultInstanceID}, Parameters: p})
	if err != nil {
		t.Fatalf("SendCommand %s: %v", doc, err)
	}
	var inv *awsssm.GetCommandInvocationOutput
	poll(t, "command "+doc, func() bool {
		got, err := e.ssmc.GetCommandInvocation(ctx, &awsssm.GetCommandInvocationInput{CommandId: out.Command.CommandId, InstanceId: aws.String(ec2.DefaultInstanceID)})
		if err != nil {
			sandboxtest.WantCode(t, err, "InvocationDoesNotExist")
			return false
		}
		inv = got
		return got.Status != ssmtypes.CommandInvocationStatusPending && got.Status != ssmtypes.CommandInvocationStatusInProgress
	})
	return inv
}

// Passwords used by the fixtures. They reach the sandbox only through Secrets Manager and KMS's
// KeyStorePassword.
const (
	adminPW = "Adm1nPassw0rdXyz"
	userPW  = "Kms5userPassw0rd"
)

// fixture is an ACTIVE cluster made through the runbook.
type fixture struct {
	clusterID, hsmIP string
	ca               *customerca.CA
	params           map[string]string // the documents' common parameters
	userARN          string
}

// activeCluster runs the runbook to an ACTIVE cluster with hsms ACTIVE HSMs (in distinct AZs)
// and, when withKMSUser, a kmsuser whose password is userPW.
func (e *env) activeCluster(t testing.TB, prefix string, hsms int, withKMSUser bool) fixture {
	t.Helper()
	ctx := context.Background()
	cc, err := e.hsmc.CreateCluster(ctx, &hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:]})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	id := *cc.Cluster.ClusterId
	e.waitCluster(t, id, "UNINITIALIZED", func(c hsmtypes.Cluster) bool { return c.State == hsmtypes.ClusterStateUninitialized })
	if _, err := e.hsmc.CreateHsm(ctx, &hsmv2.CreateHsmInput{ClusterId: &id, AvailabilityZone: aws.String("us-east-1a")}); err != nil {
		t.Fatalf("CreateHsm: %v", err)
	}
	c := e.waitCluster(t, id, "CSR", func(c hsmtypes.Cluster) bool { return c.Certificates != nil && c.Certificates.ClusterCsr != nil })
	ca := sandboxtest.CustomerCA(t)
	signed, err := ca.Issue([]byte(*c.Certificates.ClusterCsr), 0, time.Now())
	if err != nil {
		t.Fatalf("sign the cluster CSR: %v", err)
	}
	if _, err := e.hsmc.InitializeCluster(ctx, &hsmv2.InitializeClusterInput{ClusterId: &id, SignedCert: aws.String(string(signed)), TrustAnchor: aws.String(string(ca.CertificatePEM()))}); err != nil {
		t.Fatalf("InitializeCluster: %v", err)
	}
	e.waitCluster(t, id, "INITIALIZED", func(c hsmtypes.Cluster) bool { return c.State == hsmtypes.ClusterStateInitialized })
	f := fixture{clusterID: id, hsmIP: *c.Hsms[0].EniIp, ca: ca}
	f.params = map[string]string{
		"ClusterId": id, "HsmIp": f.hsmIP, "Region": "us-east-1",
		"AdminPasswordSecretArn":  e.secret(t, prefix+"/admin", adminPW),
		"CustomerCaCertSecretArn": e.secret(t, prefix+"/ca-cert", string(ca.CertificatePEM())),
	}
	f.userARN = e.secret(t, prefix+"/kmsuser", userPW)
	if inv := e.runDoc(t, hsmdocs.ActivateCluster, f.params); inv.Status != ssmtypes.CommandInvocationStatusSuccess {
		t.Fatalf("activate: %s\n%s\n%s", inv.Status, aws.ToString(inv.StandardOutputContent), aws.ToString(inv.StandardErrorContent))
	}
	e.waitCluster(t, id, "ACTIVE", func(c hsmtypes.Cluster) bool { return c.State == hsmtypes.ClusterStateActive })
	for _, az := range []string{"us-east-1b", "us-east-1c"}[:hsms-1] {
		e.addHsm(t, id, az)
	}
	e.waitCluster(t, id, "ACTIVE HSMs", activeHsms(hsms))
	if withKMSUser {
		e.createKMSUser(t, f, f.userARN)
	}
	return f
}

func (e *env) createKMSUser(t testing.TB, f fixture, passwordARN string) {
	t.Helper()
	p := map[string]string{"UserName": "kmsuser", "UserPasswordSecretArn": passwordARN}
	for k, v := range f.params {
		p[k] = v
	}
	if inv := e.runDoc(t, hsmdocs.CreateCryptoUser, p); inv.Status != ssmtypes.CommandInvocationStatusSuccess {
		t.Fatalf("create kmsuser: %s\n%s", inv.Status, aws.ToString(inv.StandardErrorContent))
	}
}

func (e *env) store(t testing.TB, id string) kmstypes.CustomKeyStoresListEntry {
	t.Helper()
	out, err := e.kmsc.DescribeCustomKeyStores(context.Background(), &awskms.DescribeCustomKeyStoresInput{CustomKeyStoreId: &id})
	if err != nil || len(out.CustomKeyStores) != 1 {
		t.Fatalf("describe key store %s: %v", id, err)
	}
	return out.CustomKeyStores[0]
}

// waitStore polls until the store leaves the transitional states and returns its entry.
func (e *env) waitStore(t testing.TB, id string) kmstypes.CustomKeyStoresListEntry {
	t.Helper()
	var s kmstypes.CustomKeyStoresListEntry
	poll(t, "key store "+id, func() bool {
		s = e.store(t, id)
		return s.ConnectionState != kmstypes.ConnectionStateTypeConnecting && s.ConnectionState != kmstypes.ConnectionStateTypeDisconnecting
	})
	return s
}

func (e *env) connect(t testing.TB, id string) kmstypes.CustomKeyStoresListEntry {
	t.Helper()
	if _, err := e.kmsc.ConnectCustomKeyStore(context.Background(), &awskms.ConnectCustomKeyStoreInput{CustomKeyStoreId: &id}); err != nil {
		t.Fatalf("ConnectCustomKeyStore: %v", err)
	}
	if s := e.store(t, id); s.ConnectionState != kmstypes.ConnectionStateTypeConnecting {
		t.Fatalf("right after connect: %s", s.ConnectionState)
	}
	return e.waitStore(t, id)
}

func (e *env) disconnect(t testing.TB, id string) {
	t.Helper()
	if _, err := e.kmsc.DisconnectCustomKeyStore(context.Background(), &awskms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: &id}); err != nil {
		t.Fatalf("DisconnectCustomKeyStore: %v", err)
	}
	if s := e.waitStore(t, id); s.ConnectionState != kmstypes.ConnectionStateTypeDisconnected {
		t.Fatalf("after disconnect: %s", s.ConnectionState)
	}
}

func (e *env) createStore(t testing.TB, f fixture, name, password string) string {
	t.Helper()
	out, err := e.kmsc.CreateCustomKeyStore(context.Background(), &awskms.CreateCustomKeyStoreInput{
		CustomKeyStoreName: &name, CloudHsmClusterId: &f.clusterID,
		TrustAnchorCertificate: aws.String(string(f.ca.CertificatePEM())), KeyStorePassword: &password,
	})
	if err != nil {
		t.Fatalf("CreateCustomKeyStore: %v", err)
	}
	return *out.CustomKeyStoreId
}
