// Package report is the cluster-report step: it builds the custom resource's answer (the cluster's
// attributes and secret ARNs) for CloudFormation.
package report

import (
	"context"
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/pkg/hsmcluster"
	"github.com/strongroom/strongroom/pkg/hsmcluster/clusterapi"
	"github.com/strongroom/strongroom/pkg/hsmcluster/secretapi"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// ReportInput names what to report on.
type ReportInput struct {
	ClusterID string          `json:"ClusterId"`
	Spec      hsmcluster.Spec `json:"Spec"`
	// ExecutionARN is the workflow run that did the work ($$.Execution.Id), returned as
	// WorkflowExecutionArn so the stack's outputs point at the run's history.
	ExecutionARN string `json:"ExecutionArn"`
}

// Report builds the SUCCESS outcome with the Data the resource documents (README): ClusterId,
// SecurityGroupId, HsmIps (comma-separated: custom-resource attributes are strings),
// CustomerCaCertificateSecretArn and AdminPasswordSecretArn (empty when Strongroom did not make
// them, as for an adopted or restored cluster), and WorkflowExecutionArn.
type Report struct {
	HSM     clusterapi.ClusterDescriber
	Secrets secretapi.SecretDescriber
}

// Handle implements the step.
func (s *Report) Handle(ctx context.Context, in ReportInput) (customresource.Outcome, error) {
	c, err := clusterapi.FindCluster(ctx, s.HSM, in.ClusterID)
	if err != nil {
		return customresource.Outcome{}, err
	}
	if c == nil {
		return customresource.Outcome{}, lambdaerr.Terminal(fmt.Sprintf("report: cluster %s no longer exists", in.ClusterID), nil)
	}
	v := hsmcluster.View(c)
	caARN, err := secretapi.SecretARN(ctx, s.Secrets, in.Spec.CACertSecretName)
	if err != nil {
		return customresource.Outcome{}, err
	}
	adminARN, err := secretapi.SecretARN(ctx, s.Secrets, in.Spec.AdminSecretName)
	if err != nil {
		return customresource.Outcome{}, err
	}
	return customresource.Outcome{
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
