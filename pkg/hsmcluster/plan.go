package hsmcluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/cfnreply"
	"github.com/strongroom/strongroom/pkg/clusterspec"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// ValidateRequest is the entry step's check of Create and Update requests: the properties parse.
// It needs no AWS call, so a bad request is answered before any workflow starts and nothing is
// created. Whether an update changes an immutable property is decided by the plan step, against
// the deployed cluster (see PlanRequest).
func ValidateRequest(ev *cfn.Event) error {
	_, err := SpecOf(refOf(ev), ev.ResourceProperties)
	return err
}

func refOf(ev *cfn.Event) EventRef {
	return EventRef{RequestType: ev.RequestType, RequestID: ev.RequestID, StackID: ev.StackID,
		LogicalResourceID: ev.LogicalResourceID, PhysicalResourceID: ev.PhysicalResourceID}
}

// PlanInput is the update and delete workflows' first step input.
type PlanInput struct {
	Event cfn.Event `json:"Event"`
}

// Plan says what an update or delete workflow has to do.
type Plan struct {
	ClusterID string           `json:"ClusterId"`
	Spec      clusterspec.Spec `json:"Spec"`
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
// succeeds instead of leaving the stack UPDATE_ROLLBACK_FAILED. An adopted cluster has no such
// tag and is judged against the old properties.
type PlanRequest struct {
	HSM ClusterDescriber
}

// Handle implements the step.
func (s *PlanRequest) Handle(ctx context.Context, in PlanInput) (Plan, error) {
	ev := in.Event
	ref := refOf(&ev)
	p := Plan{ClusterID: ev.PhysicalResourceID}
	switch ev.RequestType {
	case cfn.RequestDelete:
		if cfnreply.NamesNoResource(ev.PhysicalResourceID) || !clusterIDLike(ev.PhysicalResourceID) {
			p.NothingToDelete = true
			return p, nil
		}
		// An adopted cluster is recognised from the properties even when they no longer validate.
		if id, _ := ev.ResourceProperties["ClusterId"].(string); id != "" {
			p.Adopted = true
		}
		return p, nil
	case cfn.RequestUpdate:
		spec, err := SpecOf(ref, ev.ResourceProperties)
		if err != nil {
			return p, lambdaerr.Terminal(err.Error(), nil)
		}
		p.Spec, p.Target, p.Adopted = spec, spec.HsmCount, spec.ClusterID != ""
		old, oldErr := SpecOf(ref, ev.OldResourceProperties)
		deployed, err := s.deployedHash(ctx, ev.PhysicalResourceID)
		if err != nil {
			return p, err
		}
		if deployed == "" || clusterspec.ImmutableHash(spec) != deployed {
			// Name the properties that differ from the old ones; old properties that no longer
			// parse (a rule tightened since) cannot block a scale of an untagged cluster.
			if oldErr == nil {
				if _, err := clusterspec.Diff(old, spec); err != nil {
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
		return p, nil
	}
	return p, lambdaerr.Terminal(fmt.Sprintf("plan: RequestType %q has no plan", ev.RequestType), nil)
}

// deployedHash returns the cluster's TagImmutable ("" when it has none or does not exist).
func (s *PlanRequest) deployedHash(ctx context.Context, id string) (string, error) {
	if s.HSM == nil || !clusterIDLike(id) {
		return "", nil
	}
	c, err := findCluster(ctx, s.HSM, id)
	if err != nil || c == nil {
		return "", err
	}
	for _, t := range c.TagList {
		if aws.ToString(t.Key) == TagImmutable {
			return aws.ToString(t.Value), nil
		}
	}
	return "", nil
}

func immutableNames() string {
	names := make([]string, 0, len(clusterspec.Immutable))
	for k := range clusterspec.Immutable {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// SecretDescriber resolves secret names to ARNs.
type SecretDescriber interface {
	DescribeSecret(ctx context.Context, params *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
}

// ReportInput names what to report on.
type ReportInput struct {
	ClusterID string           `json:"ClusterId"`
	Spec      clusterspec.Spec `json:"Spec"`
	// ExecutionARN is the workflow run that did the work ($$.Execution.Id), returned as
	// WorkflowExecutionArn so the stack's outputs point at the run's history.
	ExecutionARN string `json:"ExecutionArn"`
}

// Report builds the SUCCESS outcome with the Data that DESIGN.md 3.1 promises: ClusterId,
// SecurityGroupId, HsmIps (comma-separated: custom-resource attributes are strings),
// CustomerCaCertificateSecretArn and AdminPasswordSecretArn (empty when Strongroom did not make
// them, as for an adopted or restored cluster), and WorkflowExecutionArn.
type Report struct {
	HSM     ClusterDescriber
	Secrets SecretDescriber
}

// Handle implements the step.
func (s *Report) Handle(ctx context.Context, in ReportInput) (cfnreply.Outcome, error) {
	c, err := findCluster(ctx, s.HSM, in.ClusterID)
	if err != nil {
		return cfnreply.Outcome{}, err
	}
	if c == nil {
		return cfnreply.Outcome{}, lambdaerr.Terminal(fmt.Sprintf("report: cluster %s no longer exists", in.ClusterID), nil)
	}
	v := view(c)
	caARN, err := secretARN(ctx, s.Secrets, in.Spec.CACertSecretName)
	if err != nil {
		return cfnreply.Outcome{}, err
	}
	adminARN, err := secretARN(ctx, s.Secrets, in.Spec.AdminSecretName)
	if err != nil {
		return cfnreply.Outcome{}, err
	}
	return cfnreply.Outcome{
		Status:             cfn.StatusSuccess,
		PhysicalResourceID: in.ClusterID,
		Data: map[string]any{
			"ClusterId":                      in.ClusterID,
			"SecurityGroupId":                v.SecurityGroup,
			"HsmIps":                         strings.Join(v.HsmIPs, ","),
			"CustomerCaCertificateSecretArn": caARN,
			"AdminPasswordSecretArn":         adminARN,
			"WorkflowExecutionArn":           in.ExecutionARN,
		},
	}, nil
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
