package sandbox_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// TestEnforceIAMFlowLogs: a REJECT and an ALL flow log on the VPC, each with a role trusting
// vpc-flow-logs.amazonaws.com and granted logs:CreateLogStream and logs:PutLogEvents on its group
// as CDK grants them: a connection the HSM's group refuses lands as REJECT records in both groups
// (and the client's ACCEPT of it in the ALL group only), an accepted one as ACCEPT records in the
// ALL group only, each interface in a stream of its own. A role without CreateLogStream, without
// PutLogEvents, or whose trust policy does not name vpc-flow-logs.amazonaws.com makes its flow
// log FAILED "Access error" with nothing delivered; granting the action back makes the next
// delivery SUCCESS.
func TestEnforceIAMFlowLogs(t *testing.T) {
	ctx := sandboxtest.Context(t, 2*time.Minute)
	env := enforcedSandbox(ctx, t)
	op := env.NoRetryConfig()
	ec, ic, logc := awsec2.NewFromConfig(op), iam.NewFromConfig(op), cwl.NewFromConfig(op)

	grants := []string{"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}
	flowLog := func(name, traffic, trusted string, actions []string) (id, group, role string) {
		t.Helper()
		group = "/vpc/" + name
		if _, err := logc.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String(group)}); err != nil {
			t.Fatal(err)
		}
		groupARN := fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", env.Region, env.Account, group)
		role = createRole(ctx, t, ic, name+"-role", trusted, map[string]any{"Effect": "Allow", "Action": actions, "Resource": groupARN})
		out, err := ec.CreateFlowLogs(ctx, &awsec2.CreateFlowLogsInput{ResourceIds: []string{ec2.DefaultVPCID}, ResourceType: ec2types.FlowLogsResourceTypeVpc,
			TrafficType: ec2types.TrafficType(traffic), LogGroupName: aws.String(group), DeliverLogsPermissionArn: aws.String(role)})
		if err != nil || len(out.FlowLogIds) != 1 {
			t.Fatalf("create flow log %s: %v %+v", name, err, out)
		}
		return out.FlowLogIds[0], group, role
	}
	status := func(id string) (string, string) {
		t.Helper()
		out, err := ec.DescribeFlowLogs(ctx, &awsec2.DescribeFlowLogsInput{FlowLogIds: []string{id}})
		if err != nil || len(out.FlowLogs) != 1 {
			t.Fatalf("describe flow log %s: %v", id, err)
		}
		return aws.ToString(out.FlowLogs[0].DeliverLogsStatus), aws.ToString(out.FlowLogs[0].DeliverLogsErrorMessage)
	}
	actions := func(group string) []string {
		var out []string
		for _, m := range env.Logs.Messages(group) {
			f := strings.Fields(m)
			if len(f) != 14 || f[0] != "2" || f[1] != env.Account || f[7] != "6" || f[13] != "OK" {
				t.Fatalf("record %q of %s is not a version 2 record", m, group)
			}
			out = append(out, f[2]+" "+f[12])
		}
		slices.Sort(out)
		return out
	}

	rejectID, rejectGroup, _ := flowLog("reject", "REJECT", ec2.FlowLogPrincipal, grants)
	allID, allGroup, _ := flowLog("all", "ALL", ec2.FlowLogPrincipal, grants)

	// The HSM's group lets in only itself; the client instance's lets everything out.
	cluster, err := env.EC2.CreateGroup(ec2.DefaultVPCID, "cluster", "AWS CloudHSM cluster")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.EC2.SelfRules(cluster, "tcp", 2223, 2225, "cluster"); err != nil {
		t.Fatal(err)
	}
	hsmENI, hsmIP, _, err := env.EC2.AllocateENI(ec2.DefaultSubnetIDs[1], "CloudHSM Managed Interface", cluster)
	if err != nil {
		t.Fatal(err)
	}
	client, err := env.EC2.CreateGroup(ec2.DefaultVPCID, "client", "client instance")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.EC2.SetInstanceGroups(ec2.DefaultInstanceID, []string{client}); err != nil {
		t.Fatal(err)
	}
	inst, err := ec.DescribeInstances(ctx, &awsec2.DescribeInstancesInput{InstanceIds: []string{ec2.DefaultInstanceID}})
	if err != nil {
		t.Fatal(err)
	}
	clientENI := aws.ToString(inst.Reservations[0].Instances[0].NetworkInterfaces[0].NetworkInterfaceId)

	if err := env.EC2.Connect(ec2.DefaultInstanceID, hsmIP, 2223); !ec2.IsRejected(err) {
		t.Fatalf("connect before the cluster's group lets the client in: %v", err)
	}
	if got, want := actions(rejectGroup), []string{hsmENI + " REJECT"}; !slices.Equal(got, want) {
		t.Errorf("REJECT flow log after a refused connection: %v, want %v", got, want)
	}
	if got, want := actions(allGroup), sorted(clientENI+" ACCEPT", hsmENI+" REJECT"); !slices.Equal(got, want) {
		t.Errorf("ALL flow log after a refused connection: %v, want %v", got, want)
	}
	if _, err := ec.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(cluster),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(2223), ToPort: aws.Int32(2225),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(client)}}}}}); err != nil {
		t.Fatal(err)
	}
	if err := env.EC2.Connect(ec2.DefaultInstanceID, hsmIP, 2223); err != nil {
		t.Fatalf("connect with the rule: %v", err)
	}
	if got := actions(rejectGroup); len(got) != 1 {
		t.Errorf("REJECT flow log after an accepted connection: %v, want the one REJECT only", got)
	}
	if got, want := actions(allGroup), sorted(clientENI+" ACCEPT", clientENI+" ACCEPT", clientENI+" ACCEPT", hsmENI+" ACCEPT", hsmENI+" ACCEPT", hsmENI+" REJECT"); !slices.Equal(got, want) {
		t.Errorf("ALL flow log after an accepted connection: %v, want %v", got, want)
	}
	// One stream per interface, named after it; the records carry the HSM's port.
	events, err := logc.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String(allGroup), LogStreamName: aws.String(hsmENI)})
	if err != nil || len(events.Events) != 3 {
		t.Fatalf("stream %s of %s: %v %+v", hsmENI, allGroup, err, events)
	}
	if f := strings.Fields(aws.ToString(events.Events[1].Message)); f[4] != hsmIP || f[6] != "2223" {
		t.Errorf("the accepted connection's record on the HSM: %v", f)
	}
	for _, id := range []string{rejectID, allID} {
		if s, m := status(id); s != "SUCCESS" || m != "" {
			t.Errorf("flow log %s: %s %q, want SUCCESS", id, s, m)
		}
	}
	// The deliveries are Decisions of the roles' sessions and of vpc-flow-logs.amazonaws.com.
	var assumed, put bool
	for _, d := range env.Decisions() {
		assumed = assumed || (d.Session == ec2.FlowLogPrincipal && d.Action == "sts:AssumeRole" && d.Allowed && strings.HasSuffix(d.Resource, "role/all-role"))
		put = put || (d.Action == "logs:PutLogEvents" && d.Allowed && strings.HasSuffix(d.Session, "assumed-role/all-role/"+allID))
	}
	if !assumed || !put {
		t.Errorf("decisions: the trust (%t) and the session's PutLogEvents (%t) of the ALL flow log", assumed, put)
	}

	for _, c := range []struct {
		name, trusted, denied string
		actions               []string
	}{
		{"no-create-stream", ec2.FlowLogPrincipal, "logs:CreateLogStream", []string{"logs:PutLogEvents", "logs:DescribeLogStreams"}},
		{"no-put-events", ec2.FlowLogPrincipal, "logs:PutLogEvents", []string{"logs:CreateLogStream", "logs:DescribeLogStreams"}},
		{"no-trust", "lambda.amazonaws.com", "sts:AssumeRole", grants},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, group, role := flowLog(c.name, "ALL", c.trusted, c.actions)
			if err := env.EC2.Connect(ec2.DefaultInstanceID, hsmIP, 2223); err != nil {
				t.Fatal(err)
			}
			if s, m := status(id); s != "FAILED" || m != "Access error" {
				t.Errorf("flow log without %s: %s %q, want FAILED \"Access error\"", c.denied, s, m)
			}
			if got := env.Logs.Messages(group); len(got) != 0 {
				t.Errorf("flow log without %s delivered %v", c.denied, got)
			}
			refused := slices.ContainsFunc(env.Decisions(), func(d sandbox.Decision) bool {
				return !d.Allowed && d.Action == c.denied && strings.Contains(d.Resource+d.Session, c.name)
			})
			if !refused {
				t.Errorf("no denied Decision of %s for %s", c.denied, c.name)
			}
			if s, _ := status(allID); s != "SUCCESS" {
				t.Errorf("the other flow log's delivery: %s", s)
			}
			if c.denied == "sts:AssumeRole" {
				return
			}
			// Granted back: the next delivery succeeds and clears the error.
			name := role[strings.LastIndex(role, "/")+1:]
			doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogStream","logs:PutLogEvents"],"Resource":"arn:aws:logs:%s:%s:log-group:%s:*"}]}`, env.Region, env.Account, group)
			if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("grants"), PolicyDocument: aws.String(doc)}); err != nil {
				t.Fatal(err)
			}
			if err := env.EC2.Connect(ec2.DefaultInstanceID, hsmIP, 2223); err != nil {
				t.Fatal(err)
			}
			if s, m := status(id); s != "SUCCESS" || m != "" {
				t.Errorf("flow log granted %s again: %s %q, want SUCCESS", c.denied, s, m)
			}
			if got := env.Logs.Messages(group); len(got) != 4 {
				t.Errorf("flow log granted %s again delivered %d records, want 4", c.denied, len(got))
			}
		})
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}
