package authz

import (
	"sort"
	"strings"
)

// ---- CloudWatch Logs

// logGroupName is the log group a request names: logGroupName, or logGroupIdentifier (a name or a
// log group ARN, with or without ":*").
func logGroupName(r Request) (string, error) {
	if id := r.str("logGroupIdentifier"); id != "" && r.str("logGroupName") == "" {
		return lastSegment(strings.TrimSuffix(id, ":*"), ":log-group:"), nil
	}
	return r.required("logGroupName")
}

// onLogGroup is a CloudWatch Logs operation on the log group the request names
// (arn:aws:logs:<region>:<account>:log-group:<name>, the Service Authorization Reference's log-group).
func onLogGroup(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		name, err := logGroupName(r)
		if err != nil {
			return nil, err
		}
		ctx := map[string][]string{}
		if action == "logs:CreateLogGroup" {
			tags, _ := r.JSON["tags"].(map[string]any)
			keys := make([]string, 0, len(tags))
			for k := range tags {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v, _ := tags[k].(string)
				ctx["aws:RequestTag/"+k] = []string{v}
				ctx["aws:TagKeys"] = append(ctx["aws:TagKeys"], k)
			}
		}
		return one(action, e.arn("logs", "log-group:"+name), ctx)
	}
}

// onLogStream is a CloudWatch Logs operation on the log stream the request names (the log-stream
// resource: <log group ARN>:log-stream:<name>).
func onLogStream(action string) operation {
	return func(e Env, r Request) ([]Need, error) {
		group, err := logGroupName(r)
		if err != nil {
			return nil, err
		}
		stream, err := r.required("logStreamName")
		if err != nil {
			return nil, err
		}
		return one(action, e.arn("logs", "log-group:"+group+":log-stream:"+stream), nil)
	}
}

var logsOps = map[string]operation{
	"CreateLogGroup":     onLogGroup("logs:CreateLogGroup"),
	"PutRetentionPolicy": onLogGroup("logs:PutRetentionPolicy"),
	"DeleteLogGroup":     onLogGroup("logs:DeleteLogGroup"),
	"DescribeLogStreams": onLogGroup("logs:DescribeLogStreams"),
	"FilterLogEvents":    onLogGroup("logs:FilterLogEvents"),
	"DescribeLogGroups":  wildcard("logs:DescribeLogGroups"),
	"CreateLogStream":    onLogStream("logs:CreateLogStream"),
	"PutLogEvents":       onLogStream("logs:PutLogEvents"),
	"GetLogEvents":       onLogStream("logs:GetLogEvents"),
}

// StateMachineLogDelivery are the actions a state machine's role needs for a logging configuration
// that sends its executions' events to CloudWatch Logs, each on "*": the log delivery APIs take no
// resource type (AWS Step Functions Developer Guide, "IAM policies for logging to CloudWatch Logs").
// Step Functions checks them on CreateStateMachine; the sandbox judges them there (Sandbox.EnforceIAM).
var StateMachineLogDelivery = []string{
	"logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
	"logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}
