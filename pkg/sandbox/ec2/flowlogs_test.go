package ec2_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestFlowLogsContract: CreateFlowLogs makes one flow log per resource (unknown resources and
// duplicates are unsuccessful items, malformed requests errors), DescribeFlowLogs lists them with
// AWS's fields and filters, DeleteFlowLogs removes them (unknown ids are unsuccessful items).
func TestFlowLogsContract(t *testing.T) {
	c, _ := newEnv(t)
	ctx := context.Background()
	role := "arn:aws:iam::123456789012:role/flow-logs"
	create := func(in awsec2.CreateFlowLogsInput) (*awsec2.CreateFlowLogsOutput, error) {
		if in.DeliverLogsPermissionArn == nil {
			in.DeliverLogsPermissionArn = aws.String(role)
		}
		return c.CreateFlowLogs(ctx, &in)
	}
	all, err := create(awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultVPCID, "vpc-0123456789abcdef0"}, ResourceType: types.FlowLogsResourceTypeVpc,
		TrafficType: types.TrafficTypeAll, LogGroupName: aws.String("/vpc/all"), ClientToken: aws.String("token-1"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeVpcFlowLog, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("all")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.FlowLogIds) != 1 || aws.ToString(all.ClientToken) != "token-1" || len(all.Unsuccessful) != 1 ||
		aws.ToString(all.Unsuccessful[0].ResourceId) != "vpc-0123456789abcdef0" || aws.ToString(all.Unsuccessful[0].Error.Code) != "InvalidVpcID.NotFound" {
		t.Fatalf("create on the VPC and an unknown one: %+v (unsuccessful %+v)", all, all.Unsuccessful)
	}
	dup, err := create(awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultVPCID}, ResourceType: types.FlowLogsResourceTypeVpc,
		TrafficType: types.TrafficTypeAll, LogDestination: aws.String("arn:aws:logs:us-east-1:123456789012:log-group:/vpc/all:*")})
	if err != nil || len(dup.FlowLogIds) != 0 || len(dup.Unsuccessful) != 1 || aws.ToString(dup.Unsuccessful[0].Error.Code) != "FlowLogAlreadyExists" {
		t.Fatalf("the same flow log again: %v %+v", err, dup)
	}
	rej, err := create(awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultSubnetIDs[1]}, ResourceType: types.FlowLogsResourceTypeSubnet,
		TrafficType: types.TrafficTypeReject, LogGroupName: aws.String("/vpc/reject"), MaxAggregationInterval: aws.Int32(60),
		LogFormat: aws.String("${version} ${interface-id} ${action} ${vpc-id}")})
	if err != nil || len(rej.FlowLogIds) != 1 {
		t.Fatalf("create on a subnet: %v %+v", err, rej)
	}

	for _, bad := range []struct {
		in   awsec2.CreateFlowLogsInput
		code string
	}{
		{awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultVPCID}, ResourceType: types.FlowLogsResourceTypeVpc, TrafficType: types.TrafficTypeAll,
			LogDestinationType: types.LogDestinationTypeS3, LogDestination: aws.String("arn:aws:s3:::flow-logs")}, "InvalidParameter"},
		{awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultVPCID}, ResourceType: types.FlowLogsResourceTypeVpc, TrafficType: types.TrafficTypeAll}, "InvalidParameter"},
		{awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultVPCID}, ResourceType: types.FlowLogsResourceTypeVpc, TrafficType: types.TrafficTypeAll,
			LogGroupName: aws.String("g"), LogDestination: aws.String("arn:aws:logs:us-east-1:123456789012:log-group:g")}, "InvalidParameter"},
		{awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultVPCID}, ResourceType: types.FlowLogsResourceTypeVpc, TrafficType: types.TrafficTypeAll,
			LogGroupName: aws.String("g"), MaxAggregationInterval: aws.Int32(120)}, "InvalidParameterValue"},
		{awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultVPCID}, ResourceType: types.FlowLogsResourceTypeVpc, TrafficType: types.TrafficTypeAll,
			LogGroupName: aws.String("g"), LogFormat: aws.String("${version} ${pkt-srcaddr}")}, "InvalidParameter"},
		{awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultVPCID}, ResourceType: types.FlowLogsResourceTypeVpc, LogGroupName: aws.String("g")}, "MissingParameter"},
	} {
		_, err := create(bad.in)
		sandboxtest.WantCode(t, err, bad.code)
	}
	_, err = c.CreateFlowLogs(ctx, &awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultVPCID}, ResourceType: types.FlowLogsResourceTypeVpc,
		TrafficType: types.TrafficTypeAll, LogGroupName: aws.String("g")})
	sandboxtest.WantCode(t, err, "InvalidParameter") // no DeliverLogsPermissionArn

	out, err := c.DescribeFlowLogs(ctx, &awsec2.DescribeFlowLogsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.FlowLogs) != 2 {
		t.Fatalf("describe: %+v", out.FlowLogs)
	}
	f := out.FlowLogs[0]
	if aws.ToString(f.FlowLogId) != all.FlowLogIds[0] || aws.ToString(f.ResourceId) != ec2.DefaultVPCID || f.TrafficType != types.TrafficTypeAll ||
		aws.ToString(f.LogGroupName) != "/vpc/all" || aws.ToString(f.LogDestination) != "arn:aws:logs:us-east-1:123456789012:log-group:/vpc/all" ||
		f.LogDestinationType != types.LogDestinationTypeCloudWatchLogs || aws.ToString(f.DeliverLogsPermissionArn) != role ||
		aws.ToString(f.DeliverLogsStatus) != "SUCCESS" || aws.ToString(f.FlowLogStatus) != "ACTIVE" || aws.ToString(f.LogFormat) != ec2.DefaultFlowLogFormat ||
		aws.ToInt32(f.MaxAggregationInterval) != 600 || f.CreationTime == nil || len(f.Tags) != 1 || aws.ToString(f.Tags[0].Value) != "all" {
		t.Fatalf("the VPC's flow log: %+v", f)
	}
	if g := out.FlowLogs[1]; aws.ToInt32(g.MaxAggregationInterval) != 60 || aws.ToString(g.LogFormat) != "${version} ${interface-id} ${action} ${vpc-id}" {
		t.Fatalf("the subnet's flow log: %+v", g)
	}
	for _, q := range []struct {
		filter string
		values []string
		want   []string
	}{
		{"resource-id", []string{ec2.DefaultSubnetIDs[1]}, rej.FlowLogIds},
		{"traffic-type", []string{"ALL"}, all.FlowLogIds},
		{"log-group-name", []string{"/vpc/*"}, append(all.FlowLogIds, rej.FlowLogIds...)},
		{"flow-log-id", rej.FlowLogIds, rej.FlowLogIds},
		{"deliver-log-status", []string{"FAILED"}, nil},
		{"log-destination-type", []string{"cloud-watch-logs"}, append(all.FlowLogIds, rej.FlowLogIds...)},
		{"tag:Name", []string{"all"}, all.FlowLogIds},
	} {
		got, err := c.DescribeFlowLogs(ctx, &awsec2.DescribeFlowLogsInput{Filter: []types.Filter{{Name: aws.String(q.filter), Values: q.values}}})
		if err != nil {
			t.Fatalf("filter %s: %v", q.filter, err)
		}
		var ids []string
		for _, f := range got.FlowLogs {
			ids = append(ids, aws.ToString(f.FlowLogId))
		}
		if len(ids) != len(q.want) || (len(ids) > 0 && ids[0] != q.want[0]) {
			t.Errorf("filter %s=%v: %v, want %v", q.filter, q.values, ids, q.want)
		}
	}
	_, err = c.DescribeFlowLogs(ctx, &awsec2.DescribeFlowLogsInput{Filter: []types.Filter{{Name: aws.String("state"), Values: []string{"x"}}}})
	sandboxtest.WantCode(t, err, "InvalidParameterValue")
	byID, err := c.DescribeFlowLogs(ctx, &awsec2.DescribeFlowLogsInput{FlowLogIds: []string{"fl-0123456789abcdef0"}})
	if err != nil || len(byID.FlowLogs) != 0 {
		t.Fatalf("an unknown id: %v %+v", err, byID)
	}

	del, err := c.DeleteFlowLogs(ctx, &awsec2.DeleteFlowLogsInput{FlowLogIds: []string{all.FlowLogIds[0], "fl-0123456789abcdef0"}})
	if err != nil || len(del.Unsuccessful) != 1 || aws.ToString(del.Unsuccessful[0].Error.Code) != "InvalidFlowLogId.NotFound" {
		t.Fatalf("delete: %v %+v", err, del)
	}
	if out, err = c.DescribeFlowLogs(ctx, &awsec2.DescribeFlowLogsInput{}); err != nil || len(out.FlowLogs) != 1 || aws.ToString(out.FlowLogs[0].FlowLogId) != rej.FlowLogIds[0] {
		t.Fatalf("after the delete: %v %+v", err, out)
	}
}
