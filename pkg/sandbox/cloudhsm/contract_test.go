package cloudhsm_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	hsmv2 "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// scale runs the default durations (about 14 sandbox minutes to an initialized cluster) in well
// under a second of wall time per step.
const scale = 3000

type env struct {
	srv    *sandbox.Server
	svc    *cloudhsm.Service
	net    *ec2.Service
	client *hsmv2.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := sandbox.NewServer(sandbox.Options{Scale: scale})
	net := ec2.New(srv.Clock)
	svc := cloudhsm.New(srv.Clock, net)
	srv.RegisterJSON(svc)
	srv.RegisterQuery(net)
	cfg := sandboxtest.Serve(t, srv, svc.Close)
	return &env{srv: srv, svc: svc, net: net, client: hsmv2.NewFromConfig(cfg)}
}

func (e *env) describe(t *testing.T, id string) types.Cluster {
	t.Helper()
	out, err := e.client.DescribeClusters(context.Background(), &hsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {id}}})
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	if len(out.Clusters) != 1 {
		t.Fatalf("describe %s: %d clusters", id, len(out.Clusters))
	}
	return out.Clusters[0]
}

// waitFor polls DescribeClusters (bounded by wall time) until cond holds.
func (e *env) waitFor(t *testing.T, id, what string, cond func(types.Cluster) bool) types.Cluster {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := e.describe(t, id)
		if cond(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s: timed out waiting for %s; state %s", id, what, c.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) waitState(t *testing.T, id string, state types.ClusterState) types.Cluster {
	t.Helper()
	return e.waitFor(t, id, string(state), func(c types.Cluster) bool { return c.State == state })
}

func allHsms(state types.HsmState, n int) func(types.Cluster) bool {
	return func(c types.Cluster) bool {
		if len(c.Hsms) != n {
			return false
		}
		for _, h := range c.Hsms {
			if h.State != state {
				return false
			}
		}
		return true
	}
}

func createCluster(t *testing.T, e *env) string {
	t.Helper()
	out, err := e.client.CreateCluster(context.Background(), &hsmv2.CreateClusterInput{
		HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:],
		TagList: []types.Tag{{Key: aws.String("strongroom:stack"), Value: aws.String("test")}},
	})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	c := out.Cluster
	if c.State != types.ClusterStateCreateInProgress || len(c.Hsms) != 0 || c.Mode != types.ClusterModeFips || c.NetworkType != types.NetworkTypeIpv4 {
		t.Fatalf("new cluster: %+v", c)
	}
	if !strings.HasPrefix(*c.ClusterId, "cluster-") || *c.VpcId != ec2.DefaultVPCID || len(c.SubnetMapping) != 3 || c.SubnetMapping["us-east-1b"] != ec2.DefaultSubnetIDs[1] {
		t.Fatalf("new cluster ids: %+v", c)
	}
	return *c.ClusterId
}

// firstHsm creates a cluster with one ACTIVE HSM and returns its id and the CSR.
func firstHsm(t *testing.T, e *env) (string, string) {
	t.Helper()
	ctx := context.Background()
	id := createCluster(t, e)
	e.waitState(t, id, types.ClusterStateUninitialized)
	if _, err := e.client.InitializeCluster(ctx, &hsmv2.InitializeClusterInput{ClusterId: &id, SignedCert: aws.String("x"), TrustAnchor: aws.String("y")}); err == nil {
		t.Fatal("InitializeCluster without an HSM succeeded")
	} else {
		sandboxtest.WantCode(t, err, cloudhsm.ErrInvalidRequest)
	}
	h, err := e.client.CreateHsm(ctx, &hsmv2.CreateHsmInput{ClusterId: &id, AvailabilityZone: aws.String("us-east-1a")})
	if err != nil {
		t.Fatalf("CreateHsm: %v", err)
	}
	if h.Hsm.State != types.HsmStateCreateInProgress || *h.Hsm.SubnetId != ec2.DefaultSubnetIDs[0] || !strings.HasPrefix(*h.Hsm.EniIp, "10.0.0.") || !strings.HasPrefix(*h.Hsm.EniId, "eni-") {
		t.Fatalf("new HSM: %+v", h.Hsm)
	}
	_, err = e.client.CreateHsm(ctx, &hsmv2.CreateHsmInput{ClusterId: &id, AvailabilityZone: aws.String("us-east-1b")})
	if msg := sandboxtest.WantCode(t, err, cloudhsm.ErrInvalidRequest); msg != "Cluster '"+id+"' already contains an HSM but has not yet been fully activated" {
		t.Fatalf("second CreateHsm message: %q", msg)
	}
	c := e.waitFor(t, id, "ACTIVE HSM", allHsms(types.HsmStateActive, 1))
	if c.State != types.ClusterStateUninitialized || c.Certificates == nil || c.Certificates.ClusterCsr == nil {
		t.Fatalf("cluster after first HSM: state %s certs %+v", c.State, c.Certificates)
	}
	return id, *c.Certificates.ClusterCsr
}

func TestCSRIsRealAndCertificateChainIsConsistent(t *testing.T) {
	e := newEnv(t)
	id, csrPEM := firstHsm(t, e)
	block, _ := pem.Decode([]byte(csrPEM))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("ClusterCsr is not a PEM CSR: %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		t.Fatalf("parse CSR: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("CSR self-signature: %v", err)
	}
	if k, ok := csr.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
		t.Fatalf("CSR key is not RSA 2048: %T", csr.PublicKey)
	}
	c := e.describe(t, id)
	hsmCert := parseCert(t, *c.Certificates.HsmCertificate)
	awsCert := parseCert(t, *c.Certificates.AwsHardwareCertificate)
	parseCert(t, *c.Certificates.ManufacturerHardwareCertificate)
	if err := hsmCert.CheckSignatureFrom(awsCert); err != nil {
		t.Fatalf("HsmCertificate is not signed by AwsHardwareCertificate: %v", err)
	}
	if !hsmCert.PublicKey.(*rsa.PublicKey).Equal(csr.PublicKey) {
		t.Fatal("HsmCertificate and ClusterCsr carry different keys")
	}
}

func parseCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		t.Fatalf("not PEM: %q", s)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse certificate: %v", err)
	}
	return c
}

// testCA is an RSA CA made with crypto/x509, optionally broken in one way.
type testCA struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
	pem  string
}

func newTestCA(t *testing.T, cn string) testCA {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCA{key: key, cert: cert, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue signs pub with the CA.
func (ca testCA) issue(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "HSM"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
	}, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestInitializeClusterRefusals(t *testing.T) {
	e := newEnv(t)
	id, csrPEM := firstHsm(t, e)
	block, _ := pem.Decode([]byte(csrPEM))
	csr, _ := x509.ParseCertificateRequest(block.Bytes)
	ca := newTestCA(t, "Test CA")
	other := newTestCA(t, "Other CA")
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	// An intermediate issued by ca is not self-signed.
	intermediate := testCA{key: otherKey}
	{
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "Intermediate"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}, ca.cert, &otherKey.PublicKey, ca.key)
		if err != nil {
			t.Fatal(err)
		}
		intermediate.cert, _ = x509.ParseCertificate(der)
		intermediate.pem = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4), Subject: pkix.Name{CommonName: "EC CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	ecDER, _ := x509.CreateCertificate(rand.Reader, ecTmpl, ecTmpl, &ecKey.PublicKey, ecKey)
	ecCA := testCA{cert: nil, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ecDER}))}

	cases := []struct {
		name, signed, anchor, want string
	}{
		{"wrong public key", ca.issue(t, &otherKey.PublicKey), ca.pem, "public key differs from the CSR's"},
		{"does not chain to the anchor", other.issue(t, csr.PublicKey), ca.pem, "does not chain to the trust anchor"},
		{"anchor not self-signed", intermediate.issue(t, csr.PublicKey), intermediate.pem, "not a self-signed certificate"},
		{"anchor is not RSA", ca.issue(t, csr.PublicKey), ecCA.pem, "RSA 2048 or RSA 4096"},
		{"signed cert not PEM", "garbage", ca.pem, "SignedCert is not a PEM-encoded X.509 certificate"},
		{"anchor is a CSR", ca.issue(t, csr.PublicKey), csrPEM, "TrustAnchor is not a PEM-encoded X.509 certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.InitializeCluster(context.Background(), &hsmv2.InitializeClusterInput{ClusterId: &id, SignedCert: &tc.signed, TrustAnchor: &tc.anchor})
			if msg := sandboxtest.WantCode(t, err, cloudhsm.ErrInvalidRequest); !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not say %q", msg, tc.want)
			}
		})
	}
	if c := e.describe(t, id); c.State != types.ClusterStateUninitialized {
		t.Fatalf("refusals changed the state to %s", c.State)
	}
	good := ca.issue(t, csr.PublicKey)
	_, err := e.client.InitializeCluster(context.Background(), &hsmv2.InitializeClusterInput{ClusterId: aws.String("cluster-nosuchcluste"), SignedCert: &good, TrustAnchor: &ca.pem})
	sandboxtest.WantCode(t, err, cloudhsm.ErrResourceNotFound)
}

// TestLifecycle walks a cluster from creation through activation, a second HSM, a backup restore
// and deletion, as the runbook does.
func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id, csrPEM := firstHsm(t, e)

	ca := sandboxtest.CustomerCA(t)
	signed, err := ca.Issue([]byte(csrPEM), 0, time.Now())
	if err != nil {
		t.Fatalf("sign CSR: %v", err)
	}
	out, err := e.client.InitializeCluster(ctx, &hsmv2.InitializeClusterInput{ClusterId: &id, SignedCert: aws.String(string(signed)), TrustAnchor: aws.String(string(ca.CertificatePEM()))})
	if err != nil {
		t.Fatalf("InitializeCluster: %v", err)
	}
	if out.State != types.ClusterStateInitializeInProgress || *out.StateMessage != "Cluster is initializing. State will change to INITIALIZED upon completion." {
		t.Fatalf("InitializeCluster answer: %s %q", out.State, *out.StateMessage)
	}
	_, err = e.client.InitializeCluster(ctx, &hsmv2.InitializeClusterInput{ClusterId: &id, SignedCert: aws.String(string(signed)), TrustAnchor: aws.String(string(ca.CertificatePEM()))})
	sandboxtest.WantCode(t, err, cloudhsm.ErrInvalidRequest)
	c := e.waitState(t, id, types.ClusterStateInitialized)
	if c.Certificates.ClusterCsr != nil || c.Certificates.ClusterCertificate == nil || *c.Certificates.ClusterCertificate != string(signed) {
		t.Fatalf("certificates after init: %+v", c.Certificates)
	}

	// Activation is cloudhsm-cli's job (package ssm drives it); here through the Go API.
	users, _ := e.svc.Users(id)
	if len(users) != 2 || users[0].Name != "admin" || users[0].Role != cloudhsm.RoleUnactivatedAdmin {
		t.Fatalf("users before activation: %+v", users)
	}
	other := newTestCA(t, "not the anchor")
	if err := e.svc.Activate(id, other.pem, "Admin-Passw0rd"); !errors.Is(err, cloudhsm.ErrCAMismatch) {
		t.Fatalf("activate with the wrong CA: %v", err)
	}
	if err := e.svc.Activate(id, string(ca.CertificatePEM()), "short"); !errors.Is(err, cloudhsm.ErrInvalidPassword) {
		t.Fatalf("activate with a short password: %v", err)
	}
	if err := e.svc.Activate(id, string(ca.CertificatePEM()), "Admin-Passw0rd"); err != nil {
		t.Fatalf("activate: %v", err)
	}
	if err := e.svc.Activate(id, string(ca.CertificatePEM()), "Admin-Passw0rd"); !errors.Is(err, cloudhsm.ErrInvalidState) {
		t.Fatalf("second activate: %v", err)
	}
	if c := e.describe(t, id); c.State != types.ClusterStateActive {
		t.Fatalf("after activate: %s", c.State)
	}
	admin := cloudhsm.Credentials{Role: "admin", User: "admin", Password: "Admin-Passw0rd"}
	if err := e.svc.CreateUser(id, admin, "kmsuser", cloudhsm.RoleCryptoUser, "kms-Passw0rd"); err != nil {
		t.Fatalf("create kmsuser: %v", err)
	}
	if err := e.svc.CreateUser(id, admin, "KMSUser", cloudhsm.RoleCryptoUser, "kms-Passw0rd"); !errors.Is(err, cloudhsm.ErrUserExists) {
		t.Fatalf("create kmsuser again (names are lower-cased): %v", err)
	}
	if err := e.svc.Login(id, cloudhsm.Credentials{User: "kmsuser", Password: "kms-Passw0rd"}); err != nil {
		t.Fatalf("kmsuser login: %v", err)
	}

	// Second HSM in another AZ, now allowed; an AZ without a subnet is refused.
	_, err = e.client.CreateHsm(ctx, &hsmv2.CreateHsmInput{ClusterId: &id, AvailabilityZone: aws.String("us-east-1f")})
	sandboxtest.WantCode(t, err, cloudhsm.ErrInvalidRequest)
	if _, err := e.client.CreateHsm(ctx, &hsmv2.CreateHsmInput{ClusterId: &id, AvailabilityZone: aws.String("us-east-1b")}); err != nil {
		t.Fatalf("second CreateHsm: %v", err)
	}
	c = e.waitFor(t, id, "two ACTIVE HSMs", allHsms(types.HsmStateActive, 2))
	if *c.Hsms[1].AvailabilityZone != "us-east-1b" || !strings.HasPrefix(*c.Hsms[1].EniIp, "10.0.1.") {
		t.Fatalf("second HSM: %+v", c.Hsms[1])
	}

	// Backups were taken at activation and when the second HSM was added (after kmsuser);
	// restoring the newest gives an ACTIVE cluster with no HSMs that knows the same users.
	var backupID string
	deadline := time.Now().Add(10 * time.Second)
	for backupID == "" && time.Now().Before(deadline) {
		b, err := e.client.DescribeBackups(ctx, &hsmv2.DescribeBackupsInput{Filters: map[string][]string{"clusterIds": {id}, "states": {"READY"}}})
		if err != nil {
			t.Fatalf("DescribeBackups: %v", err)
		}
		if len(b.Backups) == 2 { // newest first
			backupID = *b.Backups[0].BackupId
		}
		time.Sleep(5 * time.Millisecond)
	}
	if backupID == "" {
		t.Fatal("no READY backup after activation")
	}
	restored, err := e.client.CreateCluster(ctx, &hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:2], SourceBackupId: &backupID})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	rid := *restored.Cluster.ClusterId
	rc := e.waitState(t, rid, types.ClusterStateActive)
	if len(rc.Hsms) != 0 || *rc.SourceBackupId != backupID || *rc.Certificates.ClusterCertificate != string(signed) {
		t.Fatalf("restored cluster: %+v", rc)
	}
	ru, _ := e.svc.Users(rid)
	if len(ru) != 3 || ru[2].Name != "kmsuser" || ru[2].Role != cloudhsm.RoleCryptoUser {
		t.Fatalf("restored users: %+v", ru)
	}

	// Delete: refused while HSMs remain; HSMs by id and by ENI IP; then the cluster.
	_, err = e.client.DeleteCluster(ctx, &hsmv2.DeleteClusterInput{ClusterId: &id})
	if msg := sandboxtest.WantCode(t, err, cloudhsm.ErrInvalidRequest); !strings.Contains(msg, "Delete all HSMs") {
		t.Fatalf("DeleteCluster with HSMs: %q", msg)
	}
	if _, err := e.client.DeleteHsm(ctx, &hsmv2.DeleteHsmInput{ClusterId: &id, HsmId: c.Hsms[0].HsmId}); err != nil {
		t.Fatalf("DeleteHsm by id: %v", err)
	}
	if _, err := e.client.DeleteHsm(ctx, &hsmv2.DeleteHsmInput{ClusterId: &id, EniIp: c.Hsms[1].EniIp}); err != nil {
		t.Fatalf("DeleteHsm by ENI IP: %v", err)
	}
	_, err = e.client.DeleteHsm(ctx, &hsmv2.DeleteHsmInput{ClusterId: &id, HsmId: aws.String("hsm-nosuchhsmxx")})
	sandboxtest.WantCode(t, err, cloudhsm.ErrResourceNotFound)
	e.waitFor(t, id, "no HSMs", func(c types.Cluster) bool { return len(c.Hsms) == 0 })
	del, err := e.client.DeleteCluster(ctx, &hsmv2.DeleteClusterInput{ClusterId: &id})
	if err != nil {
		t.Fatalf("DeleteCluster: %v", err)
	}
	if del.Cluster.State != types.ClusterStateDeleteInProgress {
		t.Fatalf("DeleteCluster state: %s", del.Cluster.State)
	}
	e.waitState(t, id, types.ClusterStateDeleted)
	_, err = e.client.CreateHsm(ctx, &hsmv2.CreateHsmInput{ClusterId: &id, AvailabilityZone: aws.String("us-east-1a")})
	sandboxtest.WantCode(t, err, cloudhsm.ErrResourceNotFound)

	// A DELETED cluster stays listed for DeletedRetention (a day), then disappears.
	e.srv.Clock.SetScale(1e7)
	deadline = time.Now().Add(10 * time.Second)
	for {
		out, err := e.client.DescribeClusters(ctx, &hsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {id}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Clusters) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("DELETED cluster listed forever")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if gone := time.Until(e.srv.Clock.Now()); gone < cloudhsm.DefaultDurations.DeletedRetention {
		t.Fatalf("the cluster disappeared after %v of sandbox time, before the retention", gone)
	}
}

func TestCreateClusterValidation(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name string
		in   hsmv2.CreateClusterInput
		code string
		want string
	}{
		{"hsm1 refused", hsmv2.CreateClusterInput{HsmType: aws.String("hsm1.medium"), SubnetIds: ec2.DefaultSubnetIDs[:]}, cloudhsm.ErrInvalidRequest, "hsm1.medium"},
		{"bad type pattern", hsmv2.CreateClusterInput{HsmType: aws.String("big"), SubnetIds: ec2.DefaultSubnetIDs[:]}, "ValidationException", "hsmType"},
		{"unknown subnet", hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: []string{"subnet-0000000000000000f"}}, cloudhsm.ErrInvalidRequest, "subnet-0000000000000000f"},
		{"same AZ twice", hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: []string{ec2.DefaultSubnetIDs[0], ec2.DefaultSubnetIDs[0]}}, cloudhsm.ErrInvalidRequest, "availability zone"},
		{"retention too short", hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:], BackupRetentionPolicy: &types.BackupRetentionPolicy{Type: types.BackupRetentionTypeDays, Value: aws.String("3")}}, cloudhsm.ErrInvalidRequest, "between 7 and 379"},
		{"unknown backup", hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:], SourceBackupId: aws.String("backup-nosuchbackup")}, cloudhsm.ErrResourceNotFound, "backup-nosuchbackup"},
		{"reserved tag", hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:], TagList: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("y")}}}, cloudhsm.ErrTag, "reserved"},
		{"dual stack without IPv6 subnets", hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:], NetworkType: types.NetworkTypeDualstack}, cloudhsm.ErrInvalidRequest, "no IPv6 CIDR block"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.client.CreateCluster(context.Background(), &tc.in)
			if msg := sandboxtest.WantCode(t, err, tc.code); !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not mention %q", msg, tc.want)
			}
		})
	}
	out, _ := e.client.DescribeClusters(context.Background(), &hsmv2.DescribeClustersInput{})
	if len(out.Clusters) != 0 {
		t.Fatalf("refused creates left %d clusters", len(out.Clusters))
	}
}

func TestDescribeFiltersPaginationAndTags(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ids []string
	for range 3 {
		ids = append(ids, createCluster(t, e))
	}
	p := hsmv2.NewDescribeClustersPaginator(e.client, &hsmv2.DescribeClustersInput{MaxResults: aws.Int32(2)})
	var seen []string
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, c := range out.Clusters {
			seen = append(seen, *c.ClusterId)
		}
	}
	if pages != 2 || strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("paginated %d pages: %v, want %v", pages, seen, ids)
	}
	out, err := e.client.DescribeClusters(ctx, &hsmv2.DescribeClustersInput{Filters: map[string][]string{"states": {"CREATE_IN_PROGRESS", "UNINITIALIZED"}, "vpcIds": {ec2.DefaultVPCID}}})
	if err != nil || len(out.Clusters) != 3 {
		t.Fatalf("filter by states and vpc: %v %d", err, len(out.Clusters))
	}
	out, _ = e.client.DescribeClusters(ctx, &hsmv2.DescribeClustersInput{Filters: map[string][]string{"states": {"ACTIVE"}}})
	if len(out.Clusters) != 0 {
		t.Fatalf("filter by ACTIVE: %d", len(out.Clusters))
	}
	out, _ = e.client.DescribeClusters(ctx, &hsmv2.DescribeClustersInput{Filters: map[string][]string{"vpcIds": {"vpc-other"}}})
	if len(out.Clusters) != 0 {
		t.Fatalf("filter by other vpc: %d", len(out.Clusters))
	}
	_, err = e.client.DescribeClusters(ctx, &hsmv2.DescribeClustersInput{MaxResults: aws.Int32(26)})
	sandboxtest.WantCode(t, err, "ValidationException")

	if _, err := e.client.TagResource(ctx, &hsmv2.TagResourceInput{ResourceId: &ids[0], TagList: []types.Tag{{Key: aws.String("owner"), Value: aws.String("sec")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.UntagResource(ctx, &hsmv2.UntagResourceInput{ResourceId: &ids[0], TagKeyList: []string{"strongroom:stack"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := e.client.ListTags(ctx, &hsmv2.ListTagsInput{ResourceId: &ids[0]})
	if err != nil || len(tags.TagList) != 1 || *tags.TagList[0].Key != "owner" {
		t.Fatalf("ListTags: %v %+v", err, tags)
	}
	_, err = e.client.ListTags(ctx, &hsmv2.ListTagsInput{ResourceId: aws.String("cluster-nosuchcluste")})
	sandboxtest.WantCode(t, err, cloudhsm.ErrResourceNotFound)
}

func TestDegradedAndOutOfBandHooks(t *testing.T) {
	e := newEnv(t)
	id, _ := firstHsm(t, e)
	c := e.describe(t, id)
	if err := e.svc.InjectDegraded(id, *c.Hsms[0].HsmId); err != nil {
		t.Fatal(err)
	}
	c = e.describe(t, id)
	if c.State != types.ClusterStateDegraded || c.Hsms[0].State != types.HsmStateDegraded {
		t.Fatalf("after InjectDegraded: %s %s", c.State, c.Hsms[0].State)
	}
	if err := e.svc.ForceState(id, cloudhsm.StateUpdateInProgress); err != nil {
		t.Fatal(err)
	}
	if c = e.describe(t, id); c.State != types.ClusterStateUpdateInProgress {
		t.Fatalf("ForceState: %s", c.State)
	}
	if err := e.svc.DeleteHsmOutOfBand(id, *c.Hsms[0].HsmId); err != nil {
		t.Fatal(err)
	}
	if c = e.describe(t, id); len(c.Hsms) != 0 {
		t.Fatalf("HSM still listed after out-of-band delete")
	}
}

// TestDualStack: once the subnets have IPv6 blocks, a DUALSTACK cluster is created and each of
// its HSMs takes an IPv6 address from its subnet's block (EniIpV6) beside its IPv4 one; an IPV4
// cluster's HSMs take none.
func TestDualStack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	blocks := map[string]string{}
	for _, id := range ec2.DefaultSubnetIDs {
		b, err := e.net.AddSubnetIPv6(id)
		if err != nil {
			t.Fatal(err)
		}
		blocks[id] = b
	}
	if blocks[ec2.DefaultSubnetIDs[0]] == blocks[ec2.DefaultSubnetIDs[1]] {
		t.Fatalf("two subnets share the IPv6 block %s", blocks[ec2.DefaultSubnetIDs[0]])
	}
	for _, nt := range []types.NetworkType{types.NetworkTypeDualstack, types.NetworkTypeIpv4} {
		out, err := e.client.CreateCluster(ctx, &hsmv2.CreateClusterInput{HsmType: aws.String("hsm2m.medium"), SubnetIds: ec2.DefaultSubnetIDs[:], NetworkType: nt, Mode: types.ClusterModeNonFips})
		if err != nil {
			t.Fatalf("%s: %v", nt, err)
		}
		id := *out.Cluster.ClusterId
		e.waitState(t, id, types.ClusterStateUninitialized)
		// One HSM: a second waits for activation (the end-to-end tests add it through the workflow).
		if _, err := e.client.CreateHsm(ctx, &hsmv2.CreateHsmInput{ClusterId: aws.String(id), AvailabilityZone: aws.String("us-east-1b")}); err != nil {
			t.Fatalf("%s: CreateHsm: %v", nt, err)
		}
		c := e.waitFor(t, id, "an ACTIVE HSM", allHsms(types.HsmStateActive, 1))
		if c.NetworkType != nt || c.Mode != types.ClusterModeNonFips {
			t.Errorf("cluster %s: NetworkType %s, Mode %s; want %s, NON_FIPS", id, c.NetworkType, c.Mode, nt)
		}
		for _, h := range c.Hsms {
			v6 := aws.ToString(h.EniIpV6)
			block := strings.TrimSuffix(blocks[aws.ToString(h.SubnetId)], "::/64")
			switch {
			case nt == types.NetworkTypeIpv4 && v6 != "":
				t.Errorf("IPV4 cluster's HSM %s has the IPv6 address %s", aws.ToString(h.HsmId), v6)
			case nt == types.NetworkTypeDualstack && (v6 == "" || !strings.HasPrefix(v6, block) || aws.ToString(h.EniIp) == ""):
				t.Errorf("DUALSTACK HSM %s: EniIpV6 %q, EniIp %q; want an IPv6 address in %s and an IPv4 one", aws.ToString(h.HsmId), v6, aws.ToString(h.EniIp), blocks[aws.ToString(h.SubnetId)])
			}
		}
	}
}
