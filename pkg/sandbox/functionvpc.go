package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/strongroom/strongroom/pkg/sandbox/authz"
	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// FunctionENI is a network interface Lambda made for a function in a VPC.
type FunctionENI struct {
	ID, SubnetID, IP string
}

// functionVPCCalls are the EC2 calls Lambda makes with a function's execution role when the
// function is created or updated with a VpcConfig, in order: the Lambda developer guide,
// "Giving Lambda functions access to resources in an Amazon VPC" (execution role and user
// permissions), lists ec2:CreateNetworkInterface, ec2:DescribeNetworkInterfaces (allowed on "*"
// only), ec2:DescribeSubnets, ec2:DeleteNetworkInterface, ec2:AssignPrivateIpAddresses and
// ec2:UnassignPrivateIpAddresses as what Lambda uses the function's permissions for; CreateFunction
// refuses a role that cannot create the interfaces. The Assign/Unassign pair is not judged: the
// guide names no operation of the function's that needs it, and the sandbox gives each interface
// one address.
var functionVPCCalls = []string{"DescribeSubnets", "CreateNetworkInterface", "DescribeNetworkInterfaces"}

// AttachFunctionVPC does what Lambda does with function's execution role when the function is
// created with a VpcConfig: under EnforceIAM the role bound to function (BindRole) must be allowed
// each of functionVPCCalls (each judged and recorded as a Decision of the role's session), and a
// refusal is CreateFunction's InvalidParameterValueException "The provided execution role does not
// have permissions to call <operation> on EC2", with nothing created. Allowed, it creates one
// requester-managed network interface per subnet in the sandbox's EC2 with the security groups,
// described "AWS Lambda VPC ENI-<function>" as Lambda describes its interfaces, each recorded as an
// internal CreateNetworkInterface of the function's session. FunctionENIs lists them.
func (sb *Sandbox) AttachFunctionVPC(ctx context.Context, function string, subnets, groups []string) ([]FunctionENI, error) {
	if len(subnets) == 0 {
		return nil, core.Errorf("InvalidParameterValueException", "VpcConfig of function %s has no SubnetIds: give at least one subnet", function)
	}
	sb.Server.mu.RLock()
	e := sb.Server.enforcer
	sb.Server.mu.RUnlock()
	if e != nil {
		for _, op := range functionVPCCalls {
			for _, sn := range subnets {
				if err := sb.asFunction(ctx, e, function, "ec2", op, authz.Request{Query: eniQuery(sn, groups)}); err != nil {
					sb.recordFunctionEC2(function, op, sn, asCoreError(err))
					// AWS's text alone; the Decision holds the judge's (Server.Decisions).
					return nil, core.Errorf("InvalidParameterValueException", "The provided execution role does not have permissions to call %s on EC2", op)
				}
				if op != "CreateNetworkInterface" {
					break // the describe calls take no subnet: one decision each
				}
			}
		}
	}
	var made []FunctionENI
	for _, sn := range subnets {
		id, ip, _, err := sb.EC2.AllocateENI(sn, "AWS Lambda VPC ENI-"+function, groups...)
		if err != nil {
			for _, m := range made {
				_ = sb.EC2.ReleaseENI(m.ID)
			}
			return nil, fmt.Errorf("create the network interface of function %s in subnet %s: %w", function, sn, err)
		}
		sb.recordFunctionEC2(function, "CreateNetworkInterface", sn, nil)
		made = append(made, FunctionENI{ID: id, SubnetID: sn, IP: ip})
	}
	sb.mu.Lock()
	if sb.functionENIs == nil {
		sb.functionENIs = map[string][]FunctionENI{}
	}
	sb.functionENIs[function] = append(sb.functionENIs[function], made...)
	sb.mu.Unlock()
	return slices.Clone(made), nil
}

// DetachFunctionVPC deletes function's network interfaces as Lambda does when the function is
// deleted or its VpcConfig removed, with the function's role: under EnforceIAM each
// ec2:DeleteNetworkInterface is judged, and a refused one keeps its interface (as on AWS, where it
// stays until the role may delete it) and is returned.
func (sb *Sandbox) DetachFunctionVPC(ctx context.Context, function string) error {
	sb.Server.mu.RLock()
	e := sb.Server.enforcer
	sb.Server.mu.RUnlock()
	sb.mu.Lock()
	enis := sb.functionENIs[function]
	sb.mu.Unlock()
	var kept []FunctionENI
	var firstErr error
	for _, n := range enis {
		if err := sb.asFunction(ctx, e, function, "ec2", "DeleteNetworkInterface", authz.Request{Query: url.Values{"NetworkInterfaceId": {n.ID}}}); err != nil {
			sb.recordFunctionEC2(function, "DeleteNetworkInterface", n.ID, asCoreError(err))
			kept = append(kept, n)
			if firstErr == nil {
				firstErr = fmt.Errorf("delete network interface %s of function %s: %w", n.ID, function, err)
			}
			continue
		}
		if err := sb.EC2.ReleaseENI(n.ID); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("delete network interface %s of function %s: %w", n.ID, function, err)
		}
		sb.recordFunctionEC2(function, "DeleteNetworkInterface", n.ID, nil)
	}
	sb.mu.Lock()
	sb.functionENIs[function] = kept
	sb.mu.Unlock()
	return firstErr
}

// FunctionENIs returns the network interfaces AttachFunctionVPC made for function.
func (sb *Sandbox) FunctionENIs(function string) []FunctionENI {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return slices.Clone(sb.functionENIs[function])
}

// eniQuery is the Query request of an interface in subnet with groups, as authz reads it.
func eniQuery(subnet string, groups []string) url.Values {
	q := url.Values{"SubnetId": {subnet}}
	for i, g := range groups {
		q.Set("SecurityGroupId."+strconv.Itoa(i+1), g)
	}
	return q
}

// recordFunctionEC2 records Lambda's EC2 call op on path for function as an internal call of the
// function's session, with err's code when it was refused.
func (sb *Sandbox) recordFunctionEC2(function, op, path string, err *core.Error) {
	rec := Record{Time: sb.Clock.Now(), RequestID: core.NewUUID(), Service: "ec2", Operation: op, Protocol: "internal",
		Path: path, Status: http.StatusOK, Internal: true, Caller: function}
	if err != nil {
		rec.Status, rec.ErrorCode, rec.ResponseBody = err.Status, err.Code, []byte(err.Message)
	}
	sb.Recorder.Add(rec)
}
