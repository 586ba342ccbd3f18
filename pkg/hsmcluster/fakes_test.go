package hsmcluster_test

// In-memory stand-ins for the AWS services the cluster steps call, behind the narrow interfaces of
// api.go, sign.go and report.go. They model the service behaviour the steps rely on (CloudHSM's
// cluster and HSM life cycle and refusals, Secrets Manager's refusal to overwrite a name, EC2's
// NotFound codes, eventual consistency) and fail the way the SDK fails: typed or generic API
// errors inside smithy.OperationError and an HTTP response error, so the steps' classification
// (apiCode, errors.As on SDK types, lambdaerr.Classify at the boundary) runs on realistic chains.
// Behaviour follows pkg/sandbox/cloudhsm where the repository already models AWS.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/pkg/hsmcluster/check"
	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"
	"github.com/strongroom/strongroom/pkg/hsmcluster/password"
	"github.com/strongroom/strongroom/pkg/hsmcluster/secretapi"
	"github.com/strongroom/strongroom/pkg/runcommand"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/strongroom/strongroom/pkg/customerca"
	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// testNow is the clock of every test that signs or verifies certificates.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	region   = "us-east-1"
	account  = "123456789012"
	stackARN = "arn:aws:cloudformation:us-east-1:123456789012:stack/MyStack/0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
	vpcA     = "vpc-0aaaaaaaaaaaaaaaa"
	vpcB     = "vpc-0bbbbbbbbbbbbbbbb"
	subnetA  = "subnet-0123456789abcdef0" // us-east-1a, vpcA
	subnetB  = "subnet-0123456789abcdef1" // us-east-1b, vpcA
	subnetA2 = "subnet-0123456789abcdef2" // us-east-1a again, vpcA
	subnetC  = "subnet-0123456789abcdef3" // us-east-1c, vpcB
	instance = "i-0123456789abcdef0"
)

// subnetAZ and subnetVPC are the account's network, shared by the EC2 and CloudHSM fakes.
var (
	subnetAZ  = map[string]string{subnetA: "us-east-1a", subnetB: "us-east-1b", subnetA2: "us-east-1a", subnetC: "us-east-1c"}
	subnetVPC = map[string]string{subnetA: vpcA, subnetB: vpcA, subnetA2: vpcA, subnetC: vpcB}
)

// sdkError wraps an API error the way the SDK v2 client returns it: an OperationError around the
// HTTP response error around the typed (or generic) API error.
func sdkError(service, op string, status int, apiErr error) error {
	return &smithy.OperationError{ServiceID: service, OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
			Err:      apiErr,
		},
		RequestID: "9b2f6a1e-0000-4000-8000-000000000000",
	}}
}

// lostResponse is a call whose request reached the service but whose answer never came back.
func lostResponse(service, op string) error {
	return &smithy.OperationError{ServiceID: service, OperationName: op, Err: &smithyhttp.RequestSendError{
		Err: &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")},
	}}
}

func throttled(service, op string) error {
	return sdkError(service, op, 400, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded", Fault: smithy.FaultClient})
}

func hsmInvalid(op, format string, args ...any) error {
	return sdkError("CloudHSM V2", op, 400, &types.CloudHsmInvalidRequestException{Message: aws.String(fmt.Sprintf(format, args...))})
}

func hsmNotFound(op, format string, args ...any) error {
	return sdkError("CloudHSM V2", op, 400, &types.CloudHsmResourceNotFoundException{Message: aws.String(fmt.Sprintf(format, args...))})
}

// faults queues errors per operation. fail[op] errors are returned instead of acting; lose[op]
// counts calls that act and then lose their response.
type faults struct {
	fail map[string][]error
	lose map[string]int
}

func (f *faults) inject(op string, err error) {
	if f.fail == nil {
		f.fail = map[string][]error{}
	}
	f.fail[op] = append(f.fail[op], err)
}

func (f *faults) loseNext(op string) {
	if f.lose == nil {
		f.lose = map[string]int{}
	}
	f.lose[op]++
}

func (f *faults) take(op string) error {
	if q := f.fail[op]; len(q) > 0 {
		f.fail[op] = q[1:]
		return q[0]
	}
	return nil
}

func (f *faults) lost(op string) bool {
	if f.lose[op] > 0 {
		f.lose[op]--
		return true
	}
	return false
}

// ---- CloudHSM ----

type fakeHsm struct {
	id, az, subnet, ip string
	state              types.HsmState
}

type fakeCluster struct {
	id            string
	state         types.ClusterState
	stateMessage  string
	securityGroup string
	vpc           string
	subnets       map[string]string // AZ -> subnet
	tags          []types.Tag
	hsms          []*fakeHsm
	csr           string
	restored      bool
	created       *cloudhsmv2.CreateClusterInput
	initialized   *cloudhsmv2.InitializeClusterInput
}

func (c *fakeCluster) wire() types.Cluster {
	out := types.Cluster{
		ClusterId: aws.String(c.id), State: c.state, SecurityGroup: aws.String(c.securityGroup), VpcId: aws.String(c.vpc),
		SubnetMapping: map[string]string{}, TagList: slices.Clone(c.tags),
	}
	if c.stateMessage != "" {
		out.StateMessage = aws.String(c.stateMessage)
	}
	for az, sn := range c.subnets {
		out.SubnetMapping[az] = sn
	}
	if c.csr != "" && c.state == types.ClusterStateUninitialized {
		out.Certificates = &types.Certificates{ClusterCsr: aws.String(c.csr)}
	}
	for _, h := range c.hsms {
		out.Hsms = append(out.Hsms, types.Hsm{HsmId: aws.String(h.id), ClusterId: aws.String(c.id), AvailabilityZone: aws.String(h.az),
			SubnetId: aws.String(h.subnet), EniIp: aws.String(h.ip), State: h.state})
	}
	return out
}

// fakeCloudHSM holds clusters with their tags, subnets and HSMs. Changes CloudHSM makes over time
// (a cluster or HSM finishing creation or deletion, initialization completing) happen when the
// test calls settle, so every poll of a test sees a definite state.
type fakeCloudHSM struct {
	faults
	mu       sync.Mutex
	clusters []*fakeCluster
	seq      int
	// pageSize bounds a DescribeClusters page (CloudHSM allows at most 25).
	pageSize int
	// stale serves the next describes of a cluster from a snapshot taken by freeze: CloudHSM's
	// reads are eventually consistent.
	stale map[string][]types.Cluster
	// calls lists the mutating calls that reached the service, in order ("CreateHsm us-east-1a").
	calls     []string
	describes int
}

func newFakeCloudHSM() *fakeCloudHSM {
	return &fakeCloudHSM{pageSize: 25, stale: map[string][]types.Cluster{}}
}

func (f *fakeCloudHSM) nextID(prefix string) string {
	f.seq++
	// CloudHSM ids are 11 to 16 letters and digits 2-7 (hsmcluster's clusterRe): seven fixed
	// letters and the sequence number in four base-26 letters.
	b := []byte("abcdefgaaaa")
	for i, n := len(b)-1, f.seq; n > 0; i, n = i-1, n/26 {
		b[i] = 'a' + byte(n%26)
	}
	return prefix + string(b)
}

// hsmIP gives an HSM an address in its zone's subnet.
func hsmIP(az string, seq int) string { return fmt.Sprintf("10.0.%d.%d", az[len(az)-1]-'a', 10+seq) }

func (f *fakeCloudHSM) find(id string) *fakeCluster {
	for _, c := range f.clusters {
		if c.id == id {
			return c
		}
	}
	return nil
}

// live returns a cluster that exists and is not DELETED, or CloudHSM's not-found refusal.
func (f *fakeCloudHSM) live(op, id string) (*fakeCluster, error) {
	c := f.find(id)
	if c == nil || c.state == types.ClusterStateDeleted {
		return nil, hsmNotFound(op, "Cluster '%s' not found.", id)
	}
	return c, nil
}

// addCluster puts a cluster straight into the account (for tests that start from an existing one).
func (f *fakeCloudHSM) addCluster(state types.ClusterState, subnets []string, tags map[string]string) *fakeCluster {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := &fakeCluster{id: f.nextID("cluster-"), state: state, securityGroup: "sg-0123456789abcdef0", vpc: vpcA, subnets: map[string]string{}}
	for _, sn := range subnets {
		c.subnets[subnetAZ[sn]] = sn
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c.tags = append(c.tags, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	f.clusters = append(f.clusters, c)
	return c
}

// addHsm puts an HSM in a state straight into a cluster.
func (f *fakeCloudHSM) addHsm(c *fakeCluster, az string, state types.HsmState) *fakeHsm {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := &fakeHsm{id: f.nextID("hsm-"), az: az, subnet: c.subnets[az], state: state}
	h.ip = hsmIP(az, f.seq)
	c.hsms = append(c.hsms, h)
	return h
}

// freeze makes the next n describes of cluster id return it as it is now.
func (f *fakeCloudHSM) freeze(id string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.stale[id] = append(f.stale[id], f.find(id).wire())
	}
}

// settle completes every change CloudHSM had in progress.
func (f *fakeCloudHSM) settle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.clusters {
		switch c.state {
		case types.ClusterStateCreateInProgress:
			c.state = types.ClusterStateUninitialized
			if c.restored {
				c.state = types.ClusterStateActive
			}
		case types.ClusterStateInitializeInProgress:
			c.state = types.ClusterStateInitialized
		case types.ClusterStateDeleteInProgress:
			c.state = types.ClusterStateDeleted
		}
		kept := c.hsms[:0]
		for _, h := range c.hsms {
			switch h.state {
			case types.HsmStateCreateInProgress:
				h.state = types.HsmStateActive
				if c.state == types.ClusterStateUninitialized && c.csr == "" {
					c.csr = clusterCSR()
				}
			case types.HsmStateDeleteInProgress:
				continue // CloudHSM stops listing a deleted HSM
			}
			kept = append(kept, h)
		}
		c.hsms = kept
	}
}

func (f *fakeCloudHSM) called(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeCloudHSM) DescribeClusters(_ context.Context, in *cloudhsmv2.DescribeClustersInput, _ ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DescribeClustersOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.describes++
	if err := f.take("DescribeClusters"); err != nil {
		return nil, err
	}
	size := f.pageSize
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 25 {
			return nil, sdkError("CloudHSM V2", "DescribeClusters", 400, &smithy.GenericAPIError{Code: "ValidationException", Message: "maxResults must be between 1 and 25"})
		}
		size = int(*in.MaxResults)
	}
	var all []types.Cluster
	ids := in.Filters["clusterIds"]
	for _, c := range f.clusters {
		if len(ids) > 0 && !slices.Contains(ids, c.id) {
			continue
		}
		if q := f.stale[c.id]; len(q) > 0 {
			all = append(all, q[0])
			f.stale[c.id] = q[1:]
			continue
		}
		all = append(all, c.wire())
	}
	start := 0
	if in.NextToken != nil {
		n, err := strconv.Atoi(*in.NextToken)
		if err != nil {
			return nil, sdkError("CloudHSM V2", "DescribeClusters", 400, &types.CloudHsmInvalidRequestException{Message: aws.String("Invalid NextToken.")})
		}
		start = n
	}
	out := &cloudhsmv2.DescribeClustersOutput{}
	end := min(start+size, len(all))
	out.Clusters = all[start:end]
	if end < len(all) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (f *fakeCloudHSM) CreateCluster(_ context.Context, in *cloudhsmv2.CreateClusterInput, _ ...func(*cloudhsmv2.Options)) (*cloudhsmv2.CreateClusterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const op = "CreateCluster"
	if err := f.take(op); err != nil {
		return nil, err
	}
	if aws.ToString(in.HsmType) == "" || len(in.SubnetIds) == 0 {
		return nil, sdkError("CloudHSM V2", op, 400, &smithy.GenericAPIError{Code: "ValidationException", Message: "hsmType and subnetIds are required"})
	}
	c := &fakeCluster{id: f.nextID("cluster-"), state: types.ClusterStateCreateInProgress, securityGroup: "sg-0fedcba9876543210",
		subnets: map[string]string{}, tags: slices.Clone(in.TagList), created: in, restored: in.SourceBackupId != nil}
	for _, sn := range in.SubnetIds {
		az, ok := subnetAZ[sn]
		if !ok {
			return nil, hsmInvalid(op, "Subnet '%s' not found.", sn)
		}
		if _, dup := c.subnets[az]; dup {
			return nil, hsmInvalid(op, "Only one subnet per Availability Zone is allowed (%s).", az)
		}
		c.subnets[az] = sn
		c.vpc = subnetVPC[sn]
	}
	f.clusters = append(f.clusters, c)
	f.called("CreateCluster %s", c.id)
	if f.lost(op) {
		return nil, lostResponse("CloudHSM V2", op)
	}
	w := c.wire()
	return &cloudhsmv2.CreateClusterOutput{Cluster: &w}, nil
}

func (f *fakeCloudHSM) CreateHsm(_ context.Context, in *cloudhsmv2.CreateHsmInput, _ ...func(*cloudhsmv2.Options)) (*cloudhsmv2.CreateHsmOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const op = "CreateHsm"
	if err := f.take(op); err != nil {
		return nil, err
	}
	c, err := f.live(op, aws.ToString(in.ClusterId))
	if err != nil {
		return nil, err
	}
	switch c.state {
	case types.ClusterStateUninitialized, types.ClusterStateInitializeInProgress, types.ClusterStateInitialized:
		if len(c.hsms) > 0 {
			return nil, hsmInvalid(op, "Cluster '%s' already contains an HSM but has not yet been fully activated", c.id)
		}
		if c.state != types.ClusterStateUninitialized {
			return nil, hsmInvalid(op, "Cluster '%s' is in state %s; an HSM can be added when it is UNINITIALIZED or ACTIVE.", c.id, c.state)
		}
	case types.ClusterStateActive, types.ClusterStateDegraded:
	default:
		return nil, hsmInvalid(op, "Cluster '%s' is in state %s; an HSM can be added when it is UNINITIALIZED or ACTIVE.", c.id, c.state)
	}
	if len(c.hsms) >= hsmcluster.MaxHsmsPerCluster {
		return nil, sdkError("CloudHSM V2", op, 400, &types.CloudHsmResourceLimitExceededException{Message: aws.String(fmt.Sprintf("Cluster '%s' already has the maximum of 28 HSMs.", c.id))})
	}
	az := aws.ToString(in.AvailabilityZone)
	sn, ok := c.subnets[az]
	if !ok {
		return nil, hsmInvalid(op, "Availability zone '%s' is not one of the cluster's availability zones.", az)
	}
	h := &fakeHsm{id: f.nextID("hsm-"), az: az, subnet: sn, state: types.HsmStateCreateInProgress}
	h.ip = hsmIP(az, f.seq)
	c.hsms = append(c.hsms, h)
	f.called("CreateHsm %s", az)
	if f.lost(op) {
		return nil, lostResponse("CloudHSM V2", op)
	}
	return &cloudhsmv2.CreateHsmOutput{Hsm: &types.Hsm{HsmId: aws.String(h.id), AvailabilityZone: aws.String(az), ClusterId: aws.String(c.id),
		SubnetId: aws.String(sn), EniIp: aws.String(h.ip), State: h.state}}, nil
}

func (f *fakeCloudHSM) DeleteHsm(_ context.Context, in *cloudhsmv2.DeleteHsmInput, _ ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DeleteHsmOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const op = "DeleteHsm"
	if err := f.take(op); err != nil {
		return nil, err
	}
	c, err := f.live(op, aws.ToString(in.ClusterId))
	if err != nil {
		return nil, err
	}
	id := aws.ToString(in.HsmId)
	i := slices.IndexFunc(c.hsms, func(h *fakeHsm) bool { return h.id == id })
	if i < 0 {
		return nil, hsmNotFound(op, "HSM '%s' not found.", id)
	}
	c.hsms[i].state = types.HsmStateDeleteInProgress
	f.called("DeleteHsm %s", id)
	return &cloudhsmv2.DeleteHsmOutput{HsmId: aws.String(id)}, nil
}

func (f *fakeCloudHSM) DeleteCluster(_ context.Context, in *cloudhsmv2.DeleteClusterInput, _ ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DeleteClusterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const op = "DeleteCluster"
	if err := f.take(op); err != nil {
		return nil, err
	}
	c, err := f.live(op, aws.ToString(in.ClusterId))
	if err != nil {
		return nil, err
	}
	if c.state == types.ClusterStateDeleteInProgress {
		return nil, hsmInvalid(op, "Cluster '%s' is already being deleted.", c.id)
	}
	if len(c.hsms) > 0 {
		return nil, hsmInvalid(op, "Cluster '%s' still contains %d HSM(s). Delete all HSMs in the cluster before deleting the cluster.", c.id, len(c.hsms))
	}
	c.state = types.ClusterStateDeleteInProgress
	f.called("DeleteCluster %s", c.id)
	w := c.wire()
	return &cloudhsmv2.DeleteClusterOutput{Cluster: &w}, nil
}

func (f *fakeCloudHSM) InitializeCluster(_ context.Context, in *cloudhsmv2.InitializeClusterInput, _ ...func(*cloudhsmv2.Options)) (*cloudhsmv2.InitializeClusterOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const op = "InitializeCluster"
	if err := f.take(op); err != nil {
		return nil, err
	}
	c, err := f.live(op, aws.ToString(in.ClusterId))
	if err != nil {
		return nil, err
	}
	if c.state != types.ClusterStateUninitialized {
		return nil, hsmInvalid(op, "Cluster '%s' is in state %s; it must be UNINITIALIZED.", c.id, c.state)
	}
	// CloudHSM checks the certificate against the cluster CSR and the trust anchor.
	if err := customerca.Verify([]byte(aws.ToString(in.SignedCert)), []byte(c.csr), []byte(aws.ToString(in.TrustAnchor)), testNow); err != nil {
		return nil, hsmInvalid(op, "Failed to validate the signed certificate: %v", err)
	}
	c.state, c.initialized = types.ClusterStateInitializeInProgress, in
	f.called("InitializeCluster %s", c.id)
	return &cloudhsmv2.InitializeClusterOutput{State: c.state}, nil
}

var _ interface {
	clusterapi.ClusterCreator
	clusterapi.HsmManager
	clusterapi.ClusterInitializer
	clusterapi.ClusterDeleter
} = (*fakeCloudHSM)(nil)

// clusterCSR is the PEM CSR a cluster's first HSM produces (one RSA key for the whole test run:
// generating one per cluster would only slow the tests).
var clusterCSR = sync.OnceValue(func() string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "HSM:0123456789ABCDEF:PARTN:0, for FIPS mode", Organization: []string{"Cavium"}},
	}, key)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
})

// ---- EC2 ----

type fakeInstance struct {
	state ec2types.InstanceStateName
	vpc   string
}

type fakeEC2 struct {
	faults
	instances map[string]fakeInstance
	calls     []string
}

func newFakeEC2() *fakeEC2 {
	return &fakeEC2{instances: map[string]fakeInstance{instance: {state: ec2types.InstanceStateNameRunning, vpc: vpcA}}}
}

func (f *fakeEC2) DescribeSubnets(_ context.Context, in *ec2.DescribeSubnetsInput, _ ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error) {
	f.calls = append(f.calls, "DescribeSubnets")
	if err := f.take("DescribeSubnets"); err != nil {
		return nil, err
	}
	out := &ec2.DescribeSubnetsOutput{}
	for _, id := range in.SubnetIds {
		az, ok := subnetAZ[id]
		if !ok {
			// EC2 has no modelled error types: the SDK returns a GenericAPIError with EC2's code.
			return nil, sdkError("EC2", "DescribeSubnets", 400, &smithy.GenericAPIError{Code: "InvalidSubnetID.NotFound", Message: fmt.Sprintf("The subnet ID '%s' does not exist", id)})
		}
		out.Subnets = append(out.Subnets, ec2types.Subnet{SubnetId: aws.String(id), AvailabilityZone: aws.String(az), VpcId: aws.String(subnetVPC[id])})
	}
	// EC2 answers in its own order, not the request's.
	sort.Slice(out.Subnets, func(i, j int) bool { return *out.Subnets[i].SubnetId < *out.Subnets[j].SubnetId })
	return out, nil
}

func (f *fakeEC2) DescribeInstances(_ context.Context, in *ec2.DescribeInstancesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.calls = append(f.calls, "DescribeInstances")
	if err := f.take("DescribeInstances"); err != nil {
		return nil, err
	}
	out := &ec2.DescribeInstancesOutput{}
	for _, id := range in.InstanceIds {
		inst, ok := f.instances[id]
		if !ok {
			return nil, sdkError("EC2", "DescribeInstances", 400, &smithy.GenericAPIError{Code: "InvalidInstanceID.NotFound", Message: fmt.Sprintf("The instance ID '%s' does not exist", id)})
		}
		out.Reservations = append(out.Reservations, ec2types.Reservation{Instances: []ec2types.Instance{{
			InstanceId: aws.String(id), State: &ec2types.InstanceState{Name: inst.state}, VpcId: aws.String(inst.vpc),
		}}})
	}
	return out, nil
}

var _ check.NetworkDescriber = (*fakeEC2)(nil)

// ---- Secrets Manager ----

type fakeSecret struct {
	name, arn, value, description, kmsKey string
	tags                                  []smtypes.Tag
	deleted                               *time.Time
	// hidden secrets exist (CreateSecret refuses their name) but reads do not find them yet.
	hidden int
}

// fakeSecrets is Secrets Manager: names are unique, CreateSecret never overwrites, reads by name
// or ARN, and a secret scheduled for deletion keeps its name.
type fakeSecrets struct {
	faults
	mu      sync.Mutex
	secrets []*fakeSecret
	seq     int
	calls   []string
}

func newFakeSecrets() *fakeSecrets { return &fakeSecrets{} }

func (f *fakeSecrets) put(name, value string) *fakeSecret {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.putLocked(name, value)
}

func (f *fakeSecrets) putLocked(name, value string) *fakeSecret {
	f.seq++
	s := &fakeSecret{name: name, value: value, arn: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-Ab%04d", region, account, name, f.seq)}
	f.secrets = append(f.secrets, s)
	return s
}

func (f *fakeSecrets) byName(name string) *fakeSecret {
	for _, s := range f.secrets {
		if s.name == name {
			return s
		}
	}
	return nil
}

// visible finds a secret by name or ARN the way reads do (hidden ones are not found yet).
func (f *fakeSecrets) visible(id string) *fakeSecret {
	for _, s := range f.secrets {
		if s.name == id || s.arn == id {
			if s.hidden > 0 {
				s.hidden--
				return nil
			}
			return s
		}
	}
	return nil
}

func smNotFound(op string) error {
	return sdkError("Secrets Manager", op, 400, &smtypes.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")})
}

func (f *fakeSecrets) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "DescribeSecret")
	if err := f.take("DescribeSecret"); err != nil {
		return nil, err
	}
	s := f.visible(aws.ToString(in.SecretId))
	if s == nil {
		return nil, smNotFound("DescribeSecret")
	}
	return &secretsmanager.DescribeSecretOutput{ARN: aws.String(s.arn), Name: aws.String(s.name), DeletedDate: s.deleted, Description: aws.String(s.description)}, nil
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "GetSecretValue")
	if err := f.take("GetSecretValue"); err != nil {
		return nil, err
	}
	s := f.visible(aws.ToString(in.SecretId))
	if s == nil {
		return nil, smNotFound("GetSecretValue")
	}
	if s.deleted != nil {
		return nil, sdkError("Secrets Manager", "GetSecretValue", 400, &smtypes.InvalidRequestException{Message: aws.String("You can't perform this operation on the secret because it was marked for deletion.")})
	}
	return &secretsmanager.GetSecretValueOutput{ARN: aws.String(s.arn), Name: aws.String(s.name), SecretString: aws.String(s.value)}, nil
}

func (f *fakeSecrets) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "CreateSecret")
	if err := f.take("CreateSecret"); err != nil {
		return nil, err
	}
	name := aws.ToString(in.Name)
	if s := f.byName(name); s != nil {
		if s.deleted != nil {
			return nil, sdkError("Secrets Manager", "CreateSecret", 400, &smtypes.InvalidRequestException{Message: aws.String("You can't create this secret because a secret with this name is already scheduled for deletion.")})
		}
		return nil, sdkError("Secrets Manager", "CreateSecret", 400, &smtypes.ResourceExistsException{Message: aws.String(fmt.Sprintf("The operation failed because the secret %s already exists.", name))})
	}
	s := f.putLocked(name, aws.ToString(in.SecretString))
	s.description, s.kmsKey, s.tags = aws.ToString(in.Description), aws.ToString(in.KmsKeyId), in.Tags
	return &secretsmanager.CreateSecretOutput{ARN: aws.String(s.arn), Name: aws.String(name)}, nil
}

func (f *fakeSecrets) GetRandomPassword(_ context.Context, in *secretsmanager.GetRandomPasswordInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetRandomPasswordOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "GetRandomPassword")
	if err := f.take("GetRandomPassword"); err != nil {
		return nil, err
	}
	chars := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	if !aws.ToBool(in.ExcludePunctuation) {
		chars += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
	}
	n := aws.ToInt64(in.PasswordLength)
	if n == 0 {
		n = 32
	}
	for {
		var b strings.Builder
		for range n {
			i, _ := rand.Int(rand.Reader, big.NewInt(int64(len(chars))))
			b.WriteByte(chars[i.Int64()])
		}
		pw := b.String()
		if !aws.ToBool(in.RequireEachIncludedType) || (strings.ContainsAny(pw, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
			strings.ContainsAny(pw, "abcdefghijklmnopqrstuvwxyz") && strings.ContainsAny(pw, "0123456789")) {
			return &secretsmanager.GetRandomPasswordOutput{RandomPassword: aws.String(pw)}, nil
		}
	}
}

var (
	_ password.PasswordStore    = (*fakeSecrets)(nil)
	_ secretapi.SecretDescriber = (*fakeSecrets)(nil)
	_ customerca.SecretsAPI     = (*fakeSecrets)(nil)
)

// ---- SSM ----

type fakeSSM struct {
	faults
	managed map[string]bool
	sent    []*ssm.SendCommandInput
}

func newFakeSSM() *fakeSSM { return &fakeSSM{managed: map[string]bool{instance: true}} }

func (f *fakeSSM) SendCommand(_ context.Context, in *ssm.SendCommandInput, _ ...func(*ssm.Options)) (*ssm.SendCommandOutput, error) {
	if err := f.take("SendCommand"); err != nil {
		return nil, err
	}
	for _, id := range in.InstanceIds {
		if !f.managed[id] {
			return nil, sdkError("SSM", "SendCommand", 400, &ssmtypes.InvalidInstanceId{Message: aws.String("Instances not in a valid state for account")})
		}
	}
	f.sent = append(f.sent, in)
	return &ssm.SendCommandOutput{Command: &ssmtypes.Command{CommandId: aws.String(fmt.Sprintf("0b7e6f1c-0000-4000-8000-%012d", len(f.sent))), DocumentName: in.DocumentName}}, nil
}

func (f *fakeSSM) GetCommandInvocation(_ context.Context, in *ssm.GetCommandInvocationInput, _ ...func(*ssm.Options)) (*ssm.GetCommandInvocationOutput, error) {
	return &ssm.GetCommandInvocationOutput{CommandId: in.CommandId, InstanceId: in.InstanceId, Status: ssmtypes.CommandInvocationStatusSuccess}, nil
}

var _ runcommand.API = (*fakeSSM)(nil)

// ---- assertions ----

// errType is the errorType the state machine would see for err after the Lambda boundary
// (lambdaerr.Wrap classifies every returned error).
func errType(err error) string { return lambdaerr.TypeName(lambdaerr.Classify(err)) }

// mustTerminal checks that err is returned already classified terminal with exactly want as text.
func mustTerminal(t *testing.T, err error, want string) {
	t.Helper()
	var te *lambdaerr.TerminalError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v (%T); want a TerminalError %q", err, err, want)
	}
	if err.Error() != want {
		t.Fatalf("err =\n  %q\nwant\n  %q", err.Error(), want)
	}
}

// mustRetryable checks that err is returned already classified retryable with exactly want as text.
func mustRetryable(t *testing.T, err error, want string) {
	t.Helper()
	var re *lambdaerr.RetryableError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v (%T); want a RetryableError %q", err, err, want)
	}
	if err.Error() != want {
		t.Fatalf("err =\n  %q\nwant\n  %q", err.Error(), want)
	}
}
