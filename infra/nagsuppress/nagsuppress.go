// Package nagsuppress records cdk-nag suppressions next to the resources they excuse. Each one names
// its rule and gives a reason a reviewer can check; cdk-nag writes both into the NagReport CSV.
package nagsuppress

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Rule is one suppression: the rule id (for example "AwsSolutions-IAM5"), why the finding does not
// apply, and, for rules with granular findings, exactly which findings it covers (for example
// "Resource::*"). An empty AppliesTo suppresses every finding of the rule on the resource.
type Rule struct {
	ID        string
	Reason    string
	AppliesTo []string
}

// Add suppresses rules on c; applyToChildren extends them to the constructs c creates (an L2
// construct's CfnResource and, for a role, its default policy).
func Add(c constructs.IConstruct, applyToChildren bool, rules ...Rule) {
	sups := make([]*cdknag.NagPackSuppression, 0, len(rules))
	for _, r := range rules {
		s := &cdknag.NagPackSuppression{Id: jsii.String(r.ID), Reason: jsii.String(r.Reason)}
		if len(r.AppliesTo) > 0 {
			applies := make([]any, 0, len(r.AppliesTo))
			for _, a := range r.AppliesTo {
				applies = append(applies, a)
			}
			s.AppliesTo = &applies
		}
		sups = append(sups, s)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &sups, jsii.Bool(applyToChildren))
}

// ARN renders an ARN in this stack's partition, region and account as cdk-nag prints it in a
// granular finding (for AppliesTo): pseudo parameters as <AWS::Region> and the like in an
// environment-agnostic stack, literal values when the stack is pinned to an account and region.
func ARN(stack awscdk.Stack, service, resource string) string {
	part := func(v *string, pseudo string) string {
		if *awscdk.Token_IsUnresolved(v) {
			return "<" + pseudo + ">"
		}
		return *v
	}
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", part(stack.Partition(), "AWS::Partition"), service,
		part(stack.Region(), "AWS::Region"), part(stack.Account(), "AWS::AccountId"), resource)
}
