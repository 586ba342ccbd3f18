// Package plan is the cluster-plan step: the first step of the update and delete workflows, which
// compares the old and new properties and says what the workflow must do.
package plan

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// PlanInput is the update and delete workflows' first step input.
type PlanInput struct {
	Event cfn.Event `json:"Event"`
}

// Plan says what an update or delete workflow has to do.
type Plan struct {
	ClusterID string          `json:"ClusterId"`
	Spec      hsmcluster.Spec `json:"Spec"`
	// Target is the HSM count to reach: HsmCount for an update, 0 for a delete.
	Target   int  `json:"Target"`
	HsmDelta int  `json:"HsmDelta"`
	Adopted  bool `json:"Adopted"`
	// NothingToDelete is true for a delete whose PhysicalResourceId names no cluster.
	NothingToDelete bool `json:"NothingToDelete"`
}

// PlanRequest plans an update (scale to the new HsmCount) or a delete (remove every HSM, then the
// cluster, unless it was adopted). The cluster is the PhysicalResourceId.
//
// An update may not change what the cluster was created with. That is judged against the
// cluster's TagImmutable when it has one, not only against OldResourceProperties, so that
// CloudFormation's rollback of a refused update (which sends the original properties back as new)
// succeeds instead of leaving the stack UPDATE_ROLLBACK_FAILED. An adopted cluster (ClusterId set)
// is judged against the old properties only: a tag it carries was written by whichever resource
// created it, from properties this resource never had.
type PlanRequest struct {
	HSM clusterapi.ClusterDescriber
	// Stores lists KMS custom key stores: a Delete, or an update to fewer than two HSMs, is
	// refused while a store on the cluster is CONNECTED or CONNECTING (every KMS key in it would
	// become unusable), unless IgnoreConnectedKeyStores is true. nil skips the check (unit tests
	// of other paths); the Lambda always sets it.
	Stores StoreLister
}

// StoreLister is the part of the KMS client the plan uses.
type StoreLister interface {
	DescribeCustomKeyStores(ctx context.Context, params *kms.DescribeCustomKeyStoresInput, optFns ...func(*kms.Options)) (*kms.DescribeCustomKeyStoresOutput, error)
}

var _ StoreLister = (*kms.Client)(nil)

// MinHsmsForKeyStores is the fewest HSMs a cluster backing a connected key store may keep: KMS
// needs two ACTIVE HSMs in different zones to create keys in the store and to connect it.
const MinHsmsForKeyStores = 2

// refuseIfKeyStoresUse fails when a key store on cluster is CONNECTED or CONNECTING and ignore is
// false, naming each store and what to do.
func (s *PlanRequest) refuseIfKeyStoresUse(ctx context.Context, cluster, what, harm string, ignore bool) error {
	if s.Stores == nil || ignore {
		return nil
	}
	var using []string
	in := &kms.DescribeCustomKeyStoresInput{}
	for {
		out, err := s.Stores.DescribeCustomKeyStores(ctx, in)
		if err != nil {
			return lambdaerr.Classify(fmt.Errorf("list the KMS custom key stores that may use cluster %s: %w", cluster, err))
		}
		for _, ks := range out.CustomKeyStores {
			if aws.ToString(ks.CloudHsmClusterId) != cluster {
				continue
			}
			if st := ks.ConnectionState; st == kmstypes.ConnectionStateTypeConnected || st == kmstypes.ConnectionStateTypeConnecting {
				using = append(using, fmt.Sprintf("%s (%s, %s)", aws.ToString(ks.CustomKeyStoreId), aws.ToString(ks.CustomKeyStoreName), st))
			}
		}
		if !out.Truncated || aws.ToString(out.NextMarker) == "" {
			break
		}
		in.Marker = out.NextMarker
	}
	if len(using) == 0 {
		return nil
	}
	sort.Strings(using)
	return lambdaerr.Terminal(fmt.Sprintf("%s would %s key store %s: it uses cluster %s. "+
		"Retire the key store first (disconnect it, or delete its stack with DeleteKeyStoreOnStackDeletion true once it holds no keys), "+
		"or set IgnoreConnectedKeyStores to \"true\" on this resource to go ahead anyway", what, harm, strings.Join(using, ", "), cluster), nil)
}

// Handle implements the step.
func (s *PlanRequest) Handle(ctx context.Context, in PlanInput) (Plan, error) {
	ev := in.Event
	ref := hsmcluster.RefOf(&ev)
	p := Plan{ClusterID: ev.PhysicalResourceID}
	switch ev.RequestType {
	case cfn.RequestDelete:
		if customresource.NamesNoResource(ev.PhysicalResourceID) || !hsmcluster.ClusterIDLike(ev.PhysicalResourceID) {
			p.NothingToDelete = true
			return p, nil
		}
		// An adopted cluster is recognised from the properties even when they no longer validate.
		if id, _ := ev.ResourceProperties["ClusterId"].(string); id != "" {
			p.Adopted = true
		}
		if p.Adopted {
			// The delete workflow keeps an adopted cluster and its HSMs: nothing to guard.
			return p, nil
		}
		// Read leniently: a Delete must not depend on properties that validate.
		ignore := strings.EqualFold(strings.TrimSpace(fmt.Sprint(ev.ResourceProperties["IgnoreConnectedKeyStores"])), "true")
		return p, s.refuseIfKeyStoresUse(ctx, ev.PhysicalResourceID, "deleting cluster "+ev.PhysicalResourceID,
			"make every KMS key unusable in", ignore)
	case cfn.RequestUpdate:
		spec, err := hsmcluster.SpecOf(ref, ev.ResourceProperties)
		if err != nil {
			return p, lambdaerr.Terminal(err.Error(), nil)
		}
		p.Spec, p.Target, p.Adopted = spec, spec.HsmCount, spec.ClusterID != ""
		old, oldErr := hsmcluster.SpecOf(ref, ev.OldResourceProperties)
		deployed := ""
		if !p.Adopted {
			if deployed, err = s.deployedHash(ctx, ev.PhysicalResourceID); err != nil {
				return p, err
			}
		}
		if deployed == "" || hsmcluster.ImmutableHash(spec) != deployed {
			// Name the properties that differ from the old ones; old properties that no longer
			// parse (a rule tightened since) cannot block a scale of an untagged cluster.
			if oldErr == nil {
				if _, err := hsmcluster.Diff(old, spec); err != nil {
					return p, lambdaerr.Terminal(err.Error(), nil)
				}
			}
			if deployed != "" {
				return p, lambdaerr.Terminal(fmt.Sprintf("the new properties differ from those cluster %s was created with in properties that cannot change (%s); restore them or create a new resource", ev.PhysicalResourceID, immutableNames()), nil)
			}
		}
		if oldErr == nil {
			p.HsmDelta = spec.HsmCount - old.HsmCount
		}
		if spec.HsmCount < MinHsmsForKeyStores {
			what := fmt.Sprintf("scaling cluster %s to %d HSM(s) (KMS needs %d)", ev.PhysicalResourceID, spec.HsmCount, MinHsmsForKeyStores)
			harm := "leave unable to create keys or to reconnect (one HSM keeps its existing keys working)"
			if err := s.refuseIfKeyStoresUse(ctx, ev.PhysicalResourceID, what, harm, spec.IgnoreConnectedKeyStores); err != nil {
				return p, err
			}
		}
		return p, nil
	}
	return p, lambdaerr.Terminal(fmt.Sprintf("plan: RequestType %q has no plan", ev.RequestType), nil)
}

// deployedHash returns the cluster's TagImmutable ("" when it has none or does not exist).
func (s *PlanRequest) deployedHash(ctx context.Context, id string) (string, error) {
	if s.HSM == nil || !hsmcluster.ClusterIDLike(id) {
		return "", nil
	}
	c, err := clusterapi.FindCluster(ctx, s.HSM, id)
	if err != nil || c == nil {
		return "", err
	}
	for _, t := range c.TagList {
		if aws.ToString(t.Key) == hsmcluster.TagImmutable {
			return aws.ToString(t.Value), nil
		}
	}
	return "", nil
}

func immutableNames() string {
	names := make([]string, 0, len(hsmcluster.Immutable))
	for k := range hsmcluster.Immutable {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
