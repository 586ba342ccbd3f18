package hsmcluster

import (
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

func ClusterIDLike(id string) bool {
	return len(id) > len("cluster-") && id[:len("cluster-")] == "cluster-"
}

// Tags Strongroom puts on clusters it creates, all under TagPrefix, which the Tags property may
// not use. TagRequest finds a cluster again when a create step runs twice for the same
// CloudFormation request.
const (
	TagPrefix  = "strongroom:"
	TagStack   = "strongroom:stack-id"
	TagLogical = "strongroom:logical-id"
	TagRequest = "strongroom:create-request-id"
	// TagImmutable is ImmutableHash of the properties the cluster was created with.
	TagImmutable = "strongroom:immutable-properties"
)

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
	ClusterID    string `json:"ClusterId"`
	Found        bool   `json:"Found"`
	State        string `json:"State"`
	StateMessage string `json:"StateMessage,omitempty"`
	// SecurityGroup is "" until CloudHSM has made the cluster's group; always present, for the
	// cluster-ingress step's parameters.
	SecurityGroup string    `json:"SecurityGroup"`
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

// View reduces a cluster for the state machine.
func View(c *types.Cluster) ClusterView {
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

// ClassifyHSM keeps CloudHSM's own refusals terminal (with its message, which a person can act on)
// and lets the rest be classified at the boundary.
// CloudHsmServiceException ("the request was rejected because an error occurred") names no
// cause the caller could fix, so it is retried like a 5xx; persistent, it fails with its message
// after the state machine's retries.
func ClassifyHSM(op string, err error) error {
	switch APICode(err) {
	case "CloudHsmInvalidRequestException", "CloudHsmAccessDeniedException", "CloudHsmResourceNotFoundException", "CloudHsmTagException":
		return lambdaerr.Terminal(op+": "+APIMessage(err), nil)
	case "CloudHsmServiceException":
		return lambdaerr.Retryable(op+": "+APIMessage(err), nil)
	}
	return fmt.Errorf("%s: %w", op, err)
}
