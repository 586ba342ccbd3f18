package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/authz"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/iamjudge"
	"github.com/strongroom/strongroom/pkg/sandbox/logs"
)

// deliverFlowLogs publishes a flow log's records for one network interface to its CloudWatch Logs
// group, as VPC Flow Logs does (Amazon VPC User Guide, "Publish flow logs to CloudWatch Logs"):
// vpc-flow-logs.amazonaws.com assumes the flow log's DeliverLogsPermissionArn role (sts:AssumeRole,
// allowed only by the role's trust policy, with the flow log as aws:SourceArn and the account as
// aws:SourceAccount), and a session of that role named after the flow log creates the log stream
// named after the interface when it is absent (logs:CreateLogStream), then puts the records
// (logs:PutLogEvents), each judged under EnforceIAM and recorded as a Decision. A refusal is the
// flow log's "Access error" and its records are dropped; a log group that does not exist is an
// "Unknown error" (the sandbox does not create it, where AWS would try with logs:CreateLogGroup).
// Each record is one log event stamped with its flow's start.
func (sb *Sandbox) deliverFlowLogs(ctx context.Context, d ec2.FlowDelivery) error {
	if !sb.Logs.Exists(d.LogGroupName) {
		return &ec2.FlowDeliveryError{Message: ec2.FlowLogUnknownError,
			Err: fmt.Errorf("flow log %s: log group %s does not exist (the sandbox does not create it)", d.FlowLogID, d.LogGroupName)}
	}
	sb.Server.mu.RLock()
	e := sb.Server.enforcer
	sb.Server.mu.RUnlock()
	refused := func(what string, err error) error {
		return &ec2.FlowDeliveryError{Message: ec2.FlowLogAccessError, Err: fmt.Errorf("flow log %s: %s: %w", d.FlowLogID, what, err)}
	}
	now := sb.Clock.Now()
	session := sessionARN(sb.Account, d.RoleARN, d.FlowLogID)
	if e != nil {
		if err := e.assumedBy(ctx, now, ec2.FlowLogPrincipal, d.FlowLogARN, d.RoleARN); err != nil {
			return refused("assume role "+d.RoleARN, err)
		}
	}
	req := authz.Request{JSON: map[string]any{"logGroupName": d.LogGroupName, "logStreamName": d.InterfaceID}}
	if !sb.Logs.StreamExists(d.LogGroupName, d.InterfaceID) {
		if e != nil {
			if denied := e.authorize(ctx, now, d.RoleARN, session, "logs", "CreateLogStream", req); denied != nil {
				return refused("create log stream "+d.InterfaceID, denied)
			}
		}
		if err := sb.Logs.CreateStream(d.LogGroupName, d.InterfaceID); err != nil && !sb.Logs.StreamExists(d.LogGroupName, d.InterfaceID) {
			return &ec2.FlowDeliveryError{Message: ec2.FlowLogUnknownError, Err: err}
		}
	}
	if e != nil {
		if denied := e.authorize(ctx, now, d.RoleARN, session, "logs", "PutLogEvents", req); denied != nil {
			return refused("put log events into "+d.LogGroupName, denied)
		}
	}
	events := make([]logs.Event, len(d.Records))
	for i, r := range d.Records {
		events[i] = logs.Event{Timestamp: d.Flows[i].Start.UnixMilli(), Message: r}
	}
	if err := sb.Logs.PutBatches(d.LogGroupName, d.InterfaceID, events); err != nil {
		return &ec2.FlowDeliveryError{Message: ec2.FlowLogUnknownError, Err: err}
	}
	return nil
}

// assumedBy judges principal, a service principal, assuming roleARN on behalf of source
// (sts:AssumeRole): only the role's trust policy can allow it, with source as aws:SourceArn and
// the account as aws:SourceAccount (the confused-deputy keys AWS's services send). The Decision
// is recorded under principal.
func (e *enforcer) assumedBy(ctx context.Context, now time.Time, principal, source, roleARN string) error {
	trust, err := e.iam.RoleTrust(roleARN)
	if err != nil {
		return deniedError("sts", fmt.Sprintf("%s is not authorized to perform: sts:AssumeRole on resource: %s: the role does not exist", principal, roleARN))
	}
	d, err := e.record(ctx, now, e.iam.Generation(), principal, "sts", "AssumeRole", iamjudge.Request{
		Principal: principal, Action: "sts:AssumeRole", Resource: roleARN, ResourceAccount: e.env.Account,
		Context: map[string][]string{"aws:SourceArn": {source}, "aws:SourceAccount": {e.env.Account}},
	}, trust)
	switch {
	case err != nil:
		return judgeFailed(err)
	case !d.Allowed:
		return deniedError("sts", d.Message)
	}
	return nil
}
