// Package plan is the keystore-plan step: every key store workflow's first step, which checks the
// properties and the cluster (with CloudHSM) and says what the workflow must do.
package plan

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/strongroom/strongroom/pkg/keystore"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	hsmtypes "github.com/aws/aws-sdk-go-v2/service/cloudhsmv2/types"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// PlanInput is every workflow's first step input: a CloudFormation event, or (for the
// rotate-password workflow, started by a schedule or an operator) a RotationRequest.
type PlanInput struct {
	Event    *cfn.Event       `json:"Event,omitempty"`
	Rotation *RotationRequest `json:"Rotation,omitempty"`
}

// RotationRequest starts the rotate-password workflow: the store and the resource's properties
// (KmsUserPasswordSecretName must be given explicitly; the CDK construct always does).
type RotationRequest struct {
	CustomKeyStoreID string         `json:"CustomKeyStoreId"`
	Properties       map[string]any `json:"Properties"`
}

// Plan is what a workflow has to do, with the cluster's facts the later steps need.
type Plan struct {
	Spec keystore.Spec `json:"Spec"`
	// CustomKeyStoreID is the store (Update, Delete, rotation); empty on Create.
	CustomKeyStoreID string `json:"CustomKeyStoreId"`
	// Rename is true for an update that changes KeyStoreName.
	Rename bool `json:"Rename"`
	// NothingToDelete is true for a Delete whose PhysicalResourceId names no store.
	NothingToDelete bool `json:"NothingToDelete"`
	// DeleteKeyStore is DeleteKeyStoreOnStackDeletion as the Delete request's properties say, or
	// true for the store of a failed Create (FailedCreate).
	DeleteKeyStore bool `json:"DeleteKeyStore"`
	// FailedCreate is true for a Delete of the store a failed Create left (keystore.StoreOf): the
	// workflow deletes it unless it is CONNECTED or CONNECTING, which means a later Create of the
	// resource took it over (a retried deploy finds the store by name).
	FailedCreate bool `json:"FailedCreate"`
	// ClusterFound and HsmIP tell whether cloudhsm-cli can reach the cluster (for kmsuser).
	ClusterFound bool   `json:"ClusterFound"`
	HsmIP        string `json:"HsmIp"`
	// Note explains a decision for the answer's Reason (for example unparsable properties); the
	// delete workflow passes it on, so it is always present.
	Note string `json:"Note"`
}

// ClusterDescriber reads clusters.
type ClusterDescriber interface {
	DescribeClusters(ctx context.Context, params *cloudhsmv2.DescribeClustersInput, optFns ...func(*cloudhsmv2.Options)) (*cloudhsmv2.DescribeClustersOutput, error)
}

var _ ClusterDescriber = (*cloudhsmv2.Client)(nil)

// PlanRequest checks a request against the cluster. A Create needs the cluster ACTIVE with at
// least two ACTIVE HSMs in at least two Availability Zones (what CreateCustomKeyStore requires),
// and fails naming what is missing; the other workflows only locate an ACTIVE HSM.
type PlanRequest struct {
	HSM ClusterDescriber
}

// Handle implements the step.
func (s *PlanRequest) Handle(ctx context.Context, in PlanInput) (Plan, error) {
	var p Plan
	switch {
	case in.Rotation != nil:
		props := in.Rotation.Properties
		if n, _ := props["KmsUserPasswordSecretName"].(string); n == "" {
			return p, lambdaerr.Terminal("rotation: Properties.KmsUserPasswordSecretName is required (the secret that holds the kmsuser password)", nil)
		}
		spec, err := keystore.Parse(props, "")
		if err != nil {
			return p, lambdaerr.Terminal("rotation: "+err.Error(), nil)
		}
		if !strings.HasPrefix(in.Rotation.CustomKeyStoreID, "cks-") {
			return p, lambdaerr.Terminal(fmt.Sprintf("rotation: CustomKeyStoreId %q is not a key store id (cks-...)", in.Rotation.CustomKeyStoreID), nil)
		}
		p.Spec, p.CustomKeyStoreID = spec, in.Rotation.CustomKeyStoreID
		return p, s.locate(ctx, &p, true)
	case in.Event == nil:
		return p, lambdaerr.Terminal("plan: the input has neither Event nor Rotation", nil)
	}
	ev := in.Event
	switch ev.RequestType {
	case cfn.RequestCreate:
		spec, err := keystore.SpecOf(ev, false)
		if err != nil {
			return p, lambdaerr.Terminal(err.Error(), nil)
		}
		p.Spec = spec
		return p, s.checkReady(ctx, &p)
	case cfn.RequestUpdate:
		next, err := keystore.SpecOf(ev, false)
		if err != nil {
			return p, lambdaerr.Terminal(err.Error(), nil)
		}
		p.Spec, p.CustomKeyStoreID = next, ev.PhysicalResourceID
		if old, err := keystore.SpecOf(ev, true); err == nil {
			if p.Rename, err = keystore.Diff(old, next); err != nil {
				return p, lambdaerr.Terminal(err.Error(), nil)
			}
		} else {
			p.Rename = true
		}
		return p, nil
	case cfn.RequestDelete:
		store, failedCreate := keystore.StoreOf(ev.PhysicalResourceID)
		p.CustomKeyStoreID = store
		if customresource.NamesNoResource(ev.PhysicalResourceID) || !strings.HasPrefix(store, "cks-") {
			p.NothingToDelete = true
			return p, nil
		}
		spec, err := keystore.SpecOf(ev, false)
		if err != nil {
			// A delete must not be blocked by properties: disconnect, keep the store.
			p.Note = "the properties do not parse (" + err.Error() + "), so the key store is kept"
			return p, nil
		}
		// A store a failed Create made holds nothing of anyone's: the rollback removes it.
		p.Spec, p.DeleteKeyStore, p.FailedCreate = spec, spec.DeleteKeyStoreOnStackDeletion || failedCreate, failedCreate
		return p, s.locate(ctx, &p, false)
	}
	return p, lambdaerr.Terminal(fmt.Sprintf("plan: unknown RequestType %q", ev.RequestType), nil)
}

func (s *PlanRequest) cluster(ctx context.Context, id string) (*hsmtypes.Cluster, error) {
	out, err := s.HSM.DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {id}}})
	if err != nil {
		return nil, fmt.Errorf("describe cluster %s: %w", id, err)
	}
	for i := range out.Clusters {
		c := &out.Clusters[i]
		if aws.ToString(c.ClusterId) == id && c.State != hsmtypes.ClusterStateDeleted {
			return c, nil
		}
	}
	return nil, nil
}

// activeHsms returns the ACTIVE HSMs' IPs (sorted) and their Availability Zones.
func activeHsms(c *hsmtypes.Cluster) (ips []string, zones []string) {
	seen := map[string]bool{}
	for _, h := range c.Hsms {
		if h.State != hsmtypes.HsmStateActive {
			continue
		}
		ips = append(ips, aws.ToString(h.EniIp))
		if az := aws.ToString(h.AvailabilityZone); !seen[az] {
			seen[az] = true
			zones = append(zones, az)
		}
	}
	sort.Strings(ips)
	sort.Strings(zones)
	return ips, zones
}

func (s *PlanRequest) checkReady(ctx context.Context, p *Plan) error {
	id := p.Spec.ClusterID
	c, err := s.cluster(ctx, id)
	if err != nil {
		return err
	}
	if c == nil {
		return lambdaerr.Terminal(fmt.Sprintf("ClusterId: cluster %s does not exist in this account and Region (or was deleted)", id), nil)
	}
	p.ClusterFound = true
	if c.State != hsmtypes.ClusterStateActive {
		return lambdaerr.Terminal(fmt.Sprintf("ClusterId: cluster %s is %s; a CloudHSM key store needs it ACTIVE (initialized and activated)", id, c.State), nil)
	}
	ips, zones := activeHsms(c)
	if len(ips) < 2 || len(zones) < 2 {
		return lambdaerr.Terminal(fmt.Sprintf("ClusterId: cluster %s has %d ACTIVE HSM(s) in %d Availability Zone(s) %v; a CloudHSM key store needs at least two ACTIVE HSMs in two different Availability Zones: set HsmCount to 2 or more on the cluster and wait until the HSMs are ACTIVE", id, len(ips), len(zones), zones), nil)
	}
	p.HsmIP = ips[0]
	return nil
}

// locate finds an ACTIVE HSM for cloudhsm-cli. required makes a missing one terminal.
func (s *PlanRequest) locate(ctx context.Context, p *Plan, required bool) error {
	c, err := s.cluster(ctx, p.Spec.ClusterID)
	if err != nil {
		return err
	}
	if c != nil {
		p.ClusterFound = true
		if ips, _ := activeHsms(c); len(ips) > 0 {
			p.HsmIP = ips[0]
		}
	}
	if required && p.HsmIP == "" {
		return lambdaerr.Terminal(fmt.Sprintf("ClusterId: cluster %s has no ACTIVE HSM, so the kmsuser password cannot be changed; add an HSM and retry", p.Spec.ClusterID), nil)
	}
	return nil
}
