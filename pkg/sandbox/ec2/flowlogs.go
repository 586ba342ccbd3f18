package ec2

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// VPC flow logs (CreateFlowLogs, DescribeFlowLogs, DeleteFlowLogs) and their delivery: every Flow
// Connect records is given, at once, to each active flow log whose resource covers the interface
// and whose TrafficType takes the flow's action, as a FlowDelivery to the FlowDeliverer the sandbox
// sets (SetFlowDeliverer), which publishes the records to the flow log's CloudWatch Logs group with
// the flow log's role. The delivery's outcome is the flow log's DeliverLogsStatus.

// The flow log record format version 2, AWS's default format (Amazon VPC User Guide, "Flow log
// records", Default format).
const DefaultFlowLogFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

// DeliverLogsErrorMessage values (EC2 API Reference, FlowLog): the role may not publish to
// CloudWatch Logs, or an internal error.
const (
	FlowLogAccessError  = "Access error"
	FlowLogUnknownError = "Unknown error"
)

// FlowLogPrincipal is the service principal that assumes a flow log's DeliverLogsPermissionArn role
// (Amazon VPC User Guide, "IAM role for publishing flow logs to CloudWatch Logs": the role's trust
// policy names vpc-flow-logs.amazonaws.com).
const FlowLogPrincipal = "vpc-flow-logs.amazonaws.com"

// FlowDelivery is one batch of a flow log's records for one network interface: what the flow log
// publishes to the log stream named after the interface in its log group, with its role.
type FlowDelivery struct {
	FlowLogID, FlowLogARN string
	LogGroupName          string
	RoleARN               string // DeliverLogsPermissionArn
	InterfaceID           string // the log stream's name
	Flows                 []Flow
	Records               []string // the flows in the flow log's format, in order
}

// FlowDeliveryError is a delivery that failed: Message is the flow log's DeliverLogsErrorMessage
// (FlowLogAccessError when IAM refused a call, FlowLogUnknownError otherwise), Err the cause.
type FlowDeliveryError struct {
	Message string
	Err     error
}

func (e *FlowDeliveryError) Error() string { return e.Message + ": " + e.Err.Error() }

func (e *FlowDeliveryError) Unwrap() error { return e.Err }

// FlowDeliverer publishes a delivery; an error fails it (a *FlowDeliveryError says which
// DeliverLogsErrorMessage, any other error is FlowLogUnknownError) and its records are dropped.
type FlowDeliverer func(ctx context.Context, d FlowDelivery) error

// SetFlowDeliverer sets what publishes flow log records. Without one, records are dropped and the
// flow logs' DeliverLogsStatus stays as it is.
func (s *Service) SetFlowDeliverer(f FlowDeliverer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deliver = f
}

type flowLog struct {
	id, resourceID, resourceType, trafficType string
	destinationType, groupName, destination   string
	roleARN, format                           string
	fields                                    []string
	maxAggregation                            int
	created                                   time.Time
	deliverStatus, deliverError               string
	tags                                      []tag
}

// flowLogFields are the record fields the sandbox can fill: version 2's, and the interface's VPC,
// subnet and instance (version 3's vpc-id, subnet-id, instance-id).
var flowLogFields = []string{"version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
	"protocol", "packets", "bytes", "start", "end", "action", "log-status", "vpc-id", "subnet-id", "instance-id"}

// parseFormat returns the fields of a LogFormat ("${field} ${field} ..."), refusing the fields the
// sandbox cannot fill.
func parseFormat(format string) ([]string, error) {
	var fields, unknown []string
	for _, w := range strings.Fields(format) {
		f, ok := strings.CutPrefix(w, "${")
		f, ok2 := strings.CutSuffix(f, "}")
		if !ok || !ok2 || f == "" {
			return nil, core.Errorf("InvalidParameter", "LogFormat %q: fields are written ${field-name}, separated by spaces", format)
		}
		if !slices.Contains(flowLogFields, f) {
			unknown = append(unknown, f)
		}
		fields = append(fields, f)
	}
	if len(fields) == 0 {
		return nil, core.Errorf("InvalidParameter", "LogFormat has no field")
	}
	if len(unknown) > 0 {
		return nil, core.Errorf("InvalidParameter", "Unknown fields provided: %s (the sandbox fills %s)", strings.Join(unknown, ", "), strings.Join(flowLogFields, ", "))
	}
	return fields, nil
}

func (s *Service) flowLogARN(id string) string {
	return fmt.Sprintf("arn:aws:ec2:%s:%s:vpc-flow-log/%s", s.Region(), s.Account(), id)
}

type unsuccessfulXML struct {
	Code       string `xml:"error>code"`
	Message    string `xml:"error>message"`
	ResourceID string `xml:"resourceId"`
}

type createFlowLogsOutput struct {
	ClientToken  string            `xml:"clientToken,omitempty"`
	FlowLogIDs   []string          `xml:"flowLogIdSet>item"`
	Unsuccessful []unsuccessfulXML `xml:"unsuccessful>item"`
}

type flowLogXML struct {
	CreationTime             string   `xml:"creationTime"`
	DeliverLogsErrorMessage  string   `xml:"deliverLogsErrorMessage,omitempty"`
	DeliverLogsPermissionArn string   `xml:"deliverLogsPermissionArn,omitempty"`
	DeliverLogsStatus        string   `xml:"deliverLogsStatus"`
	FlowLogID                string   `xml:"flowLogId"`
	FlowLogStatus            string   `xml:"flowLogStatus"`
	LogGroupName             string   `xml:"logGroupName,omitempty"`
	ResourceID               string   `xml:"resourceId"`
	TrafficType              string   `xml:"trafficType"`
	LogDestinationType       string   `xml:"logDestinationType"`
	LogDestination           string   `xml:"logDestination"`
	LogFormat                string   `xml:"logFormat"`
	Tags                     []tagXML `xml:"tagSet>item"`
	MaxAggregationInterval   int      `xml:"maxAggregationInterval"`
}

type describeFlowLogsOutput struct {
	FlowLogs []flowLogXML `xml:"flowLogSet>item"`
}

type deleteFlowLogsOutput struct {
	Unsuccessful []unsuccessfulXML `xml:"unsuccessful>item"`
}

// createFlowLogs answers CreateFlowLogs: one flow log per ResourceId.N. A resource that does not
// exist, or that has a flow log with the same traffic type and destination already, is an
// unsuccessful item (as EC2 answers it), not an error; a malformed request is an error.
func (s *Service) createFlowLogs(_ context.Context, p url.Values) (any, error) {
	ids := stringList(p, "ResourceId")
	if len(ids) == 0 {
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter ResourceId")
	}
	rtype := p.Get("ResourceType")
	switch rtype {
	case "VPC", "Subnet", "NetworkInterface":
	case "":
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter ResourceType")
	default:
		return nil, core.Errorf("InvalidParameterValue", "Value (%s) for parameter ResourceType is invalid. The sandbox emulates flow logs of VPC, Subnet and NetworkInterface resources.", rtype)
	}
	traffic := p.Get("TrafficType")
	switch traffic {
	case "ACCEPT", "REJECT", "ALL":
	case "":
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter TrafficType")
	default:
		return nil, core.Errorf("InvalidParameterValue", "Value (%s) for parameter TrafficType is invalid. Valid values: ACCEPT, REJECT, ALL.", traffic)
	}
	dtype := p.Get("LogDestinationType")
	switch dtype {
	case "", "cloud-watch-logs":
		dtype = "cloud-watch-logs"
	case "s3", "kinesis-data-firehose":
		// Refused rather than accepted and never delivered: a flow log the sandbox would not
		// deliver would report a SUCCESS nothing proves.
		return nil, core.Errorf("InvalidParameter", "LogDestinationType %s is not emulated: the sandbox delivers flow logs to CloudWatch Logs only (cloud-watch-logs)", dtype)
	default:
		return nil, core.Errorf("InvalidParameterValue", "Value (%s) for parameter LogDestinationType is invalid. Valid values: cloud-watch-logs, s3, kinesis-data-firehose.", dtype)
	}
	group, dest := p.Get("LogGroupName"), p.Get("LogDestination")
	switch {
	case group != "" && dest != "":
		return nil, core.Errorf("InvalidParameter", "Please only provide LogGroupName or only provide LogDestination.")
	case group == "" && dest == "":
		return nil, core.Errorf("InvalidParameter", "LogDestination can't be empty if LogGroupName is not provided.")
	case dest != "":
		i := strings.Index(dest, ":log-group:")
		if !strings.HasPrefix(dest, "arn:") || i < 0 {
			return nil, core.Errorf("InvalidParameter", "LogDestination %s is not a CloudWatch Logs log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>)", dest)
		}
		group = strings.TrimSuffix(dest[i+len(":log-group:"):], ":*")
	}
	dest = fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", s.Region(), s.Account(), group)
	role := p.Get("DeliverLogsPermissionArn")
	if role == "" {
		return nil, core.Errorf("InvalidParameter", "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.")
	}
	if !strings.HasPrefix(role, "arn:") || !strings.Contains(role, ":role/") {
		return nil, core.Errorf("InvalidParameter", "DeliverLogsPermissionArn %s is not an IAM role ARN", role)
	}
	format := p.Get("LogFormat")
	if format == "" {
		format = DefaultFlowLogFormat
	}
	fields, err := parseFormat(format)
	if err != nil {
		return nil, err
	}
	interval := 600
	if v := p.Get("MaxAggregationInterval"); v != "" {
		if interval, err = strconv.Atoi(v); err != nil || (interval != 60 && interval != 600) {
			return nil, core.Errorf("InvalidParameterValue", "Value (%s) for parameter MaxAggregationInterval is invalid. Valid values: 60, 600.", v)
		}
	}
	var tags []tag
	for _, spec := range core.QueryList(p, "TagSpecification") {
		if rt := spec.Get("ResourceType"); rt != "vpc-flow-log" {
			return nil, core.Errorf("InvalidParameterValue", "'%s' is not a valid taggable resource type for this operation.", rt)
		}
		for _, t := range core.QueryList(spec, "Tag") {
			tags = append(tags, tag{t.Get("Key"), t.Get("Value")})
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	out := createFlowLogsOutput{ClientToken: p.Get("ClientToken")}
	for _, id := range ids {
		if err := s.flowLogResource(rtype, id); err != nil {
			var ce *core.Error
			errors.As(err, &ce)
			out.Unsuccessful = append(out.Unsuccessful, unsuccessfulXML{Code: ce.Code, Message: ce.Message, ResourceID: id})
			continue
		}
		if slices.ContainsFunc(s.flowLogs, func(f *flowLog) bool {
			return f.resourceID == id && f.trafficType == traffic && f.destination == dest
		}) {
			out.Unsuccessful = append(out.Unsuccessful, unsuccessfulXML{Code: "FlowLogAlreadyExists",
				Message: "Error. There is an existing Flow Log with the same configuration and log destination.", ResourceID: id})
			continue
		}
		f := &flowLog{id: newID("fl-"), resourceID: id, resourceType: rtype, trafficType: traffic,
			destinationType: dtype, groupName: group, destination: dest, roleARN: role, format: format, fields: fields,
			maxAggregation: interval, created: s.clock.Now(), deliverStatus: "SUCCESS", tags: slices.Clone(tags)}
		s.flowLogs = append(s.flowLogs, f)
		out.FlowLogIDs = append(out.FlowLogIDs, f.id)
	}
	return out, nil
}

// flowLogResource checks that the resource a flow log names exists. Caller holds s.mu.
func (s *Service) flowLogResource(rtype, id string) error {
	switch rtype {
	case "VPC":
		_, err := s.vpc(id)
		return err
	case "Subnet":
		_, err := s.subnet(id)
		return err
	}
	if s.eniByID(id) == nil {
		return notFound("InvalidNetworkInterfaceID.NotFound", "networkInterface ID", id)
	}
	return nil
}

// flowLogFilters are DescribeFlowLogs' filter names (besides tag:<key>, tag-key and tag-value).
var flowLogFilters = []string{"deliver-log-status", "log-destination-type", "flow-log-id", "log-group-name", "resource-id", "traffic-type"}

func (s *Service) flowLogXML(f *flowLog) flowLogXML {
	return flowLogXML{
		CreationTime: f.created.UTC().Format(timeFormat), DeliverLogsErrorMessage: f.deliverError,
		DeliverLogsPermissionArn: f.roleARN, DeliverLogsStatus: f.deliverStatus, FlowLogID: f.id, FlowLogStatus: "ACTIVE",
		LogGroupName: f.groupName, ResourceID: f.resourceID, TrafficType: f.trafficType, LogDestinationType: f.destinationType,
		LogDestination: f.destination, LogFormat: f.format, Tags: tagsXML(f.tags), MaxAggregationInterval: f.maxAggregation,
	}
}

// describeFlowLogs answers DescribeFlowLogs: FlowLogId.N (an id no flow log has matches nothing,
// as on EC2) and Filter.N.
func (s *Service) describeFlowLogs(_ context.Context, p url.Values) (any, error) {
	filters, err := parseFilters(p, func(name string) bool { return slices.Contains(flowLogFilters, name) })
	if err != nil {
		return nil, err
	}
	ids := stringList(p, "FlowLogId")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := describeFlowLogsOutput{}
	for _, f := range s.flowLogs {
		if len(ids) > 0 && !slices.Contains(ids, f.id) {
			continue
		}
		attrs := map[string][]string{"deliver-log-status": {f.deliverStatus}, "log-destination-type": {f.destinationType},
			"flow-log-id": {f.id}, "log-group-name": {f.groupName}, "resource-id": {f.resourceID}, "traffic-type": {f.trafficType}}
		if match(filters, attrs, f.tags) {
			out.FlowLogs = append(out.FlowLogs, s.flowLogXML(f))
		}
	}
	return out, nil
}

// deleteFlowLogs answers DeleteFlowLogs: an id no flow log has is an unsuccessful item.
func (s *Service) deleteFlowLogs(_ context.Context, p url.Values) (any, error) {
	ids := stringList(p, "FlowLogId")
	if len(ids) == 0 {
		return nil, core.Errorf("MissingParameter", "The request must contain the parameter FlowLogId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := deleteFlowLogsOutput{}
	for _, id := range ids {
		i := slices.IndexFunc(s.flowLogs, func(f *flowLog) bool { return f.id == id })
		if i < 0 {
			out.Unsuccessful = append(out.Unsuccessful, unsuccessfulXML{Code: "InvalidFlowLogId.NotFound",
				Message: fmt.Sprintf("These flow log ids in the input list are not found: [TotalCount: 1] %s", id), ResourceID: id})
			continue
		}
		s.flowLogs = slices.Delete(s.flowLogs, i, i+1)
	}
	return out, nil
}

// covers reports whether the flow log captures traffic of interface n with action. Caller holds s.mu.
func (s *Service) covers(f *flowLog, n *eni, action string) bool {
	if f.trafficType != "ALL" && f.trafficType != action {
		return false
	}
	switch f.resourceType {
	case "NetworkInterface":
		return f.resourceID == n.id
	case "Subnet":
		return f.resourceID == n.subnetID
	}
	sn, err := s.subnet(n.subnetID)
	return err == nil && sn.vpcID == f.resourceID
}

// flowDeliveries groups flows into the deliveries of the flow logs that capture them: one per flow
// log and interface, in the order the flow logs were created. Caller holds s.mu.
func (s *Service) flowDeliveries(flows []Flow) []FlowDelivery {
	var out []FlowDelivery
	for _, f := range s.flowLogs {
		byENI := map[string]int{}
		for _, fl := range flows {
			n := s.eniByID(fl.InterfaceID)
			if n == nil || !s.covers(f, n, fl.Action) {
				continue
			}
			i, ok := byENI[n.id]
			if !ok {
				i = len(out)
				byENI[n.id] = i
				out = append(out, FlowDelivery{FlowLogID: f.id, FlowLogARN: s.flowLogARN(f.id), LogGroupName: f.groupName,
					RoleARN: f.roleARN, InterfaceID: n.id})
			}
			out[i].Flows = append(out[i].Flows, fl)
			out[i].Records = append(out[i].Records, s.flowRecord(f.fields, n, fl))
		}
	}
	return out
}

// flowRecord writes a flow as a record of the given fields. Caller holds s.mu.
func (s *Service) flowRecord(fields []string, n *eni, fl Flow) string {
	vals := make([]string, len(fields))
	for i, f := range fields {
		switch f {
		case "version":
			vals[i] = "2"
		case "account-id":
			vals[i] = s.Account()
		case "interface-id":
			vals[i] = fl.InterfaceID
		case "srcaddr":
			vals[i] = fl.SrcAddr
		case "dstaddr":
			vals[i] = fl.DstAddr
		case "srcport":
			vals[i] = strconv.Itoa(fl.SrcPort)
		case "dstport":
			vals[i] = strconv.Itoa(fl.DstPort)
		case "protocol":
			vals[i] = strconv.Itoa(fl.Protocol)
		case "packets":
			vals[i] = strconv.Itoa(fl.Packets)
		case "bytes":
			vals[i] = strconv.Itoa(fl.Bytes)
		case "start":
			vals[i] = strconv.FormatInt(fl.Start.Unix(), 10)
		case "end":
			vals[i] = strconv.FormatInt(fl.End.Unix(), 10)
		case "action":
			vals[i] = fl.Action
		case "log-status":
			vals[i] = "OK"
		case "vpc-id", "subnet-id":
			vals[i] = "-"
			if sn, err := s.subnet(n.subnetID); err == nil {
				vals[i] = map[string]string{"vpc-id": sn.vpcID, "subnet-id": sn.id}[f]
			}
		case "instance-id":
			vals[i] = "-"
			if n.instanceID != "" {
				vals[i] = n.instanceID
			}
		}
	}
	return strings.Join(vals, " ")
}

// deliverFlows hands each delivery to the deliverer and sets each flow log's DeliverLogsStatus from
// the outcome: FAILED with the error's DeliverLogsErrorMessage, SUCCESS again once one succeeds.
// Called without s.mu held.
func (s *Service) deliverFlows(deliver FlowDeliverer, ds []FlowDelivery) {
	if deliver == nil {
		return
	}
	for _, d := range ds {
		err := deliver(context.Background(), d)
		status, message := "SUCCESS", ""
		if err != nil {
			status, message = "FAILED", FlowLogUnknownError
			var de *FlowDeliveryError
			if errors.As(err, &de) {
				message = de.Message
			}
		}
		s.mu.Lock()
		for _, f := range s.flowLogs {
			if f.id == d.FlowLogID {
				f.deliverStatus, f.deliverError = status, message
			}
		}
		s.mu.Unlock()
	}
}
