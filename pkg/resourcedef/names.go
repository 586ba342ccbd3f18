package resourcedef

import (
	"fmt"
	"strings"
)

// Names are what one deployment of a resource calls its parts, so a grant's refs resolve to the
// ARNs its role is given. The CDK construct (infra/workflowresource) fills them with
// CloudFormation tokens in string form (a token survives being formatted into a longer string);
// the sandbox kits (pkg/sandbox/testkit/stacktest) with the sandbox's own values. Both then grant
// exactly what Statement returns, so the kits' functions run under the roles a stack deploys.
type Names struct {
	Partition, Region, Account string
	// SecretPrefix names the resource's secrets: strongroom/<stack>/<construct id>.
	SecretPrefix string
	// KeyARN is the resource's secrets key (SecretsKey).
	KeyARN string
	// Documents are the SSM documents' names by pkg/hsmdocs name.
	Documents map[string]string
	// ClientInstanceID and VpcID are the client instance and the cluster's VPC ("" when not given).
	ClientInstanceID, VpcID string
	// StateMachines are the workflows' ARNs and names by kind.
	StateMachines map[string]StateMachineName
	// Inputs are the values of Input refs, by name.
	Inputs map[string][]string
}

// StateMachineName is one workflow's ARN and name.
type StateMachineName struct{ ARN, Name string }

// ARN is arn:<partition>:<service>:<region>:<account>:<resource>.
func (n Names) ARN(service, resource string) string {
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", n.Partition, service, n.Region, n.Account, resource)
}

// ARNs resolves ref to the resource ARNs a grant on it names.
func (n Names) ARNs(ref Ref) ([]string, error) {
	switch ref.Kind {
	case Any:
		return []string{"*"}, nil
	case Clusters:
		return []string{n.ARN("cloudhsm", "cluster/*")}, nil
	case Secret:
		// "-??????" matches the six random characters Secrets Manager appends.
		return []string{n.ARN("secretsmanager", "secret:"+n.SecretPrefix+"/"+ref.Arg+"-??????")}, nil
	case MissingSecret:
		return []string{n.ARN("secretsmanager", "secret:"+n.SecretPrefix+"/"+ref.Arg)}, nil
	case Key:
		return []string{n.KeyARN}, nil
	case Document:
		d, ok := n.Documents[ref.Arg]
		if !ok {
			return nil, fmt.Errorf("document %s is not among the definition's Documents", ref.Arg)
		}
		return []string{n.ARN("ssm", "document/"+d)}, nil
	case ClientInstance:
		if n.ClientInstanceID == "" {
			return nil, fmt.Errorf("a grant names the client instance, and no client instance id is given")
		}
		return []string{n.ARN("ec2", "instance/"+n.ClientInstanceID)}, nil
	case Vpc:
		if n.VpcID == "" {
			return nil, fmt.Errorf("a grant names the cluster's VPC, and no VPC id is given")
		}
		return []string{n.ARN("ec2", "vpc/"+n.VpcID)}, nil
	case VpcSecurityGroups, NewSecurityGroups:
		if n.VpcID == "" {
			return nil, fmt.Errorf("a grant names the security groups of the cluster's VPC, and no VPC id is given")
		}
		return []string{n.ARN("ec2", "security-group/*")}, nil
	case ServiceLinkedRole:
		return []string{fmt.Sprintf("arn:%s:iam::%s:role/aws-service-role/%s.amazonaws.com/AWSServiceRoleFor%s",
			n.Partition, n.Account, ref.Arg, serviceRoleSuffix(ref.Arg))}, nil
	case DefaultEventBus:
		return []string{n.ARN("events", "event-bus/default")}, nil
	case Input:
		v, ok := n.Inputs[ref.Arg]
		if !ok {
			return nil, fmt.Errorf("input %s is not given", ref.Arg)
		}
		return v, nil
	case StateMachine, Executions:
		sm, ok := n.StateMachines[ref.Arg]
		if !ok {
			return nil, fmt.Errorf("no %s workflow", ref.Arg)
		}
		if ref.Kind == StateMachine {
			return []string{sm.ARN}, nil
		}
		return []string{n.ARN("states", "execution:"+sm.Name+":*")}, nil
	}
	return nil, fmt.Errorf("unknown ref kind %q", ref.Kind)
}

// serviceRoleSuffix is the service-linked role's name after AWSServiceRoleFor.
func serviceRoleSuffix(service string) string {
	switch service {
	case "cloudhsm":
		return "CloudHSM"
	case "cks.kms":
		return "KeyManagementServiceCustomKeyStores"
	}
	return service
}

// Statement is one Allow statement of an IAM policy, as a grant resolves.
type Statement struct {
	Actions   []string
	Resources []string
	// Condition is operator -> key -> value, or nil.
	Condition map[string]map[string]string
}

// Statement resolves g. A grant on VpcSecurityGroups carries the ArnEquals ec2:Vpc condition that
// keeps it to the cluster's VPC (Check keeps that ref alone in its grant).
func (n Names) Statement(g Grant) (Statement, error) {
	st := Statement{Actions: g.Actions, Condition: g.Condition}
	for _, on := range g.On {
		arns, err := n.ARNs(on)
		if err != nil {
			return Statement{}, fmt.Errorf("grant of %s: %w", strings.Join(g.Actions, ", "), err)
		}
		st.Resources = append(st.Resources, arns...)
	}
	if len(g.On) == 1 && g.On[0].Kind == VpcSecurityGroups {
		st.Condition = map[string]map[string]string{"ArnEquals": {"ec2:Vpc": n.ARN("ec2", "vpc/"+n.VpcID)}}
	}
	return st, nil
}

// Policy is the IAM policy document of statements grants resolve to, as JSON-ready values.
func (n Names) Policy(grants []Grant) (map[string]any, error) {
	var sts []any
	for _, g := range grants {
		st, err := n.Statement(g)
		if err != nil {
			return nil, err
		}
		m := map[string]any{"Effect": "Allow", "Action": st.Actions, "Resource": st.Resources}
		if st.Condition != nil {
			m["Condition"] = st.Condition
		}
		sts = append(sts, m)
	}
	return map[string]any{"Version": "2012-10-17", "Statement": sts}, nil
}
