package hsmcluster

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

func clusterIDLike(id string) bool {
	return len(id) > len("cluster-") && id[:len("cluster-")] == "cluster-"
}

// ClusterRef names a cluster in a payload.
type ClusterRef struct {
	ClusterID string `json:"ClusterId"`
}

// HsmView is one HSM as the workflow sees it.
type HsmView struct {
	HsmID            string `json:"HsmId"`
	AvailabilityZone string `json:"AvailabilityZone"`
	SubnetID         string `json:"SubnetId"`
	EniIP            string `json:"EniIp,omitempty"`
	State            string `json:"State"`
}

// ClusterView is DescribeClusters reduced to what the state machine's Choice states test. Counts
// are computed here because a Choice state cannot count array elements.
type ClusterView struct {
	ClusterID     string    `json:"ClusterId"`
	Found         bool      `json:"Found"`
	State         string    `json:"State"`
	StateMessage  string    `json:"StateMessage,omitempty"`
	SecurityGroup string    `json:"SecurityGroup,omitempty"`
	VpcID         string    `json:"VpcId,omitempty"`
	HasCsr        bool      `json:"HasCsr"`
	Hsms          []HsmView `json:"Hsms"`
	// HsmCount counts HSMs that exist or are being created (not those being deleted).
	HsmCount     int `json:"HsmCount"`
	ActiveHsms   int `json:"ActiveHsms"`
	PendingHsms  int `json:"PendingHsms"`
	DeletingHsms int `json:"DeletingHsms"`
	DegradedHsms int `json:"DegradedHsms"`
	// AllHsmsActive is true when at least one HSM exists and every HSM is ACTIVE.
	AllHsmsActive bool `json:"AllHsmsActive"`
	// FirstActiveHsmIP is an ACTIVE HSM's IP, for cloudhsm-cli on the client instance.
	FirstActiveHsmIP string `json:"FirstActiveHsmIp"`
	// HsmIPs lists every ACTIVE HSM's IP.
	HsmIPs []string `json:"HsmIps"`
}

// findCluster returns the cluster with id, or nil when AWS lists none (DescribeClusters answers an
// unknown id with an empty list, not an error).
func findCluster(ctx context.Context, api ClusterDescriber, id string) (*types.Cluster, error) {
	out, err := api.DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {id}}})
	if err != nil {
		return nil, classifyHSM("describe cluster "+id, err)
	}
	for i := range out.Clusters {
		if aws.ToString(out.Clusters[i].ClusterId) == id {
			return &out.Clusters[i], nil
		}
	}
	return nil, nil
}

// view reduces a cluster for the state machine.
func view(c *types.Cluster) ClusterView {
	v := ClusterView{
		ClusterID:     aws.ToString(c.ClusterId),
		Found:         true,
		State:         string(c.State),
		StateMessage:  aws.ToString(c.StateMessage),
		SecurityGroup: aws.ToString(c.SecurityGroup),
		VpcID:         aws.ToString(c.VpcId),
		Hsms:          []HsmView{},
		HsmIPs:        []string{},
	}
	if c.Certificates != nil && aws.ToString(c.Certificates.ClusterCsr) != "" {
		v.HasCsr = true
	}
	for _, h := range c.Hsms {
		hv := HsmView{HsmID: aws.ToString(h.HsmId), AvailabilityZone: aws.ToString(h.AvailabilityZone),
			SubnetID: aws.ToString(h.SubnetId), EniIP: aws.ToString(h.EniIp), State: string(h.State)}
		v.Hsms = append(v.Hsms, hv)
		switch h.State {
		case types.HsmStateActive:
			v.ActiveHsms++
			v.HsmIPs = append(v.HsmIPs, hv.EniIP)
		case types.HsmStateCreateInProgress:
			v.PendingHsms++
		case types.HsmStateDeleteInProgress, types.HsmStateDeleted:
			v.DeletingHsms++
		case types.HsmStateDegraded:
			v.DegradedHsms++
		}
	}
	sort.Slice(v.Hsms, func(i, j int) bool { return v.Hsms[i].HsmID < v.Hsms[j].HsmID })
	sort.Strings(v.HsmIPs)
	v.HsmCount = v.ActiveHsms + v.PendingHsms + v.DegradedHsms
	// Every live HSM (not one being deleted) is ACTIVE; a DEGRADED one is counted in HsmCount, so
	// it keeps this false and the workflows route it to a failure instead of polling until timeout.
	v.AllHsmsActive = v.ActiveHsms > 0 && v.ActiveHsms == v.HsmCount
	if len(v.HsmIPs) > 0 {
		v.FirstActiveHsmIP = v.HsmIPs[0]
	}
	return v
}

// classifyHSM keeps CloudHSM's own refusals terminal (with its message, which a person can act on)
// and lets the rest be classified at the boundary.
// CloudHsmServiceException ("the request was rejected because an error occurred") names no
// cause the caller could fix, so it is retried like a 5xx; persistent, it fails with its message
// after the state machine's retries.
func classifyHSM(op string, err error) error {
	switch apiCode(err) {
	case "CloudHsmInvalidRequestException", "CloudHsmAccessDeniedException", "CloudHsmResourceNotFoundException", "CloudHsmTagException":
		return lambdaerr.Terminal(op+": "+apiMessage(err), nil)
	case "CloudHsmServiceException":
		return lambdaerr.Retryable(op+": "+apiMessage(err), nil)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// secretARN resolves a secret name to its ARN; "" when the name is empty or no such secret exists.
func secretARN(ctx context.Context, api SecretDescriber, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	d, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var nf *smtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("describe secret %s: %w", name, err)
	}
	return aws.ToString(d.ARN), nil
}
