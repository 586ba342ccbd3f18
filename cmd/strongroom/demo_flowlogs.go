package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudhsmv2"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	sbec2 "github.com/strongroom/strongroom/pkg/sandbox/ec2"
)

// hsmPort is the port the client instance's cloudhsm-cli reaches an HSM on.
const hsmPort = "2223"

// checkFlowLogs looks, through the AWS SDK, at the VPC flow logs both stacks put on the one sandbox
// VPC once the cluster is ACTIVE and activated: every one must be delivering (DeliverLogsStatus
// SUCCESS: its role assumed by vpc-flow-logs.amazonaws.com, logs:CreateLogStream and
// logs:PutLogEvents judged), and the database stack's (TrafficType ALL) group must hold ACCEPT
// records of the client instance's connections to the cluster's HSMs on port 2223, which the
// activation made. A FAILED flow log fails the demo.
func (d *demo) checkFlowLogs(ctx context.Context, clusterID string) error {
	ec := ec2.NewFromConfig(d.aws)
	out, err := ec.DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{Filter: []ec2types.Filter{{Name: aws.String("resource-id"), Values: []string{sbec2.DefaultVPCID}}}})
	if err != nil {
		return fmt.Errorf("describe the flow logs of %s: %w", sbec2.DefaultVPCID, err)
	}
	if len(out.FlowLogs) == 0 {
		return fmt.Errorf("no flow log on %s: the stacks' AWS::EC2::FlowLog resources were not deployed", sbec2.DefaultVPCID)
	}
	var dbLog *ec2types.FlowLog
	dbID := d.stackFlowLog(databaseStack)
	for i, f := range out.FlowLogs {
		if s := aws.ToString(f.DeliverLogsStatus); s != "SUCCESS" {
			return fmt.Errorf("flow log %s (%s, group %s, role %s) is %s: %s", aws.ToString(f.FlowLogId), f.TrafficType,
				aws.ToString(f.LogGroupName), aws.ToString(f.DeliverLogsPermissionArn), s, aws.ToString(f.DeliverLogsErrorMessage))
		}
		if aws.ToString(f.FlowLogId) == dbID {
			dbLog = &out.FlowLogs[i]
		}
	}
	head := fmt.Sprintf("flow logs on %s: %d, each DeliverLogsStatus SUCCESS", sbec2.DefaultVPCID, len(out.FlowLogs))
	if dbLog == nil {
		d.p.line("%s; %s's flow log is not deployed (its section did not run), so no records are checked", head, databaseStack)
		return nil
	}
	inst, err := ec.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{sbec2.DefaultInstanceID}})
	if err != nil || len(inst.Reservations) == 0 || len(inst.Reservations[0].Instances) == 0 {
		return fmt.Errorf("describe the client instance %s: %v", sbec2.DefaultInstanceID, err)
	}
	clientIP := aws.ToString(inst.Reservations[0].Instances[0].PrivateIpAddress)
	clusters, err := cloudhsmv2.NewFromConfig(d.aws).DescribeClusters(ctx, &cloudhsmv2.DescribeClustersInput{Filters: map[string][]string{"clusterIds": {clusterID}}})
	if err != nil || len(clusters.Clusters) != 1 {
		return fmt.Errorf("describe cluster %s: %v", clusterID, err)
	}
	var hsmIPs []string
	for _, h := range clusters.Clusters[0].Hsms {
		hsmIPs = append(hsmIPs, aws.ToString(h.EniIp))
	}
	group := aws.ToString(dbLog.LogGroupName)
	events, err := cwl.NewFromConfig(d.aws).FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String(group)})
	if err != nil {
		return fmt.Errorf("read flow log group %s: %w", group, err)
	}
	accepted := 0
	var streams []string
	for _, e := range events.Events {
		// version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
		f := strings.Fields(aws.ToString(e.Message))
		if len(f) == 14 && f[3] == clientIP && slices.Contains(hsmIPs, f[4]) && f[6] == hsmPort && f[7] == "6" && f[12] == "ACCEPT" {
			accepted++
			if s := aws.ToString(e.LogStreamName); !slices.Contains(streams, s) {
				streams = append(streams, s)
			}
		}
	}
	if accepted == 0 {
		return fmt.Errorf("%s's flow log %s (group %s) holds no ACCEPT record of the client instance (%s) connecting to an HSM of %s (%s) on port %s: %d records in all",
			databaseStack, aws.ToString(dbLog.FlowLogId), group, clientIP, clusterID, strings.Join(hsmIPs, ", "), hsmPort, len(events.Events))
	}
	slices.Sort(streams)
	d.p.line("%s; %s's flow log %s (%s) holds %d ACCEPT records of the client instance's connections to HSMs on port %s (streams %s)",
		head, databaseStack, aws.ToString(dbLog.FlowLogId), dbLog.TrafficType, accepted, hsmPort, strings.Join(streams, ", "))
	return nil
}

// stackFlowLog returns the id of the flow log a deployed stack made, "" when the stack has none or
// was not deployed.
func (d *demo) stackFlowLog(stack string) string {
	for _, st := range d.stacks {
		if st.Name != stack {
			continue
		}
		for id, r := range st.Template.Resources {
			if r.Type == "AWS::EC2::FlowLog" {
				return st.Physical(id)
			}
		}
	}
	return ""
}
