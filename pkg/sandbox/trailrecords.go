package sandbox

import (
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// eventSources are CloudTrail's eventSource of each sandbox service id that differs from
// <id>.amazonaws.com.
var eventSources = map[string]string{"cloudhsmv2": "cloudhsm.amazonaws.com", "cloudwatch": "monitoring.amazonaws.com"}

// s3DataEvents are S3's object-level operations: data events, which a trail records only with
// data event selectors (the sandbox's trails record management events only).
var s3DataEvents = map[string]bool{"PutObject": true, "GetObject": true, "HeadObject": true, "DeleteObject": true, "ListObjectsV2": true}

// cloudTrailRecords is the trails' records source (cloudtrail.Records): every wire call after seq
// that CloudTrail records as a management event, in the record shape CloudTrail writes (the same
// fields as secretsmanager.RotationEvent.CloudTrailRecord's service events): the caller's identity
// (a bound role's session, else the account's root, whose static key the operator signs with),
// eventName and eventSource, the errorCode of a failed call. Internal calls (one
// service calling another) and S3 data events are not management events here.
func (s *Server) cloudTrailRecords(after int) ([]map[string]any, int) {
	all := s.Recorder.Records("", "")
	last := 0
	if len(all) > 0 {
		last = all[len(all)-1].Seq
	}
	var out []map[string]any
	for _, r := range all {
		if r.Seq <= after {
			continue
		}
		if r.Internal || r.Service == "unknown" || r.Service == "" || (r.Service == "s3" && s3DataEvents[r.Operation]) {
			continue
		}
		source := eventSources[r.Service]
		if source == "" {
			source = r.Service + ".amazonaws.com"
		}
		identity := map[string]any{"type": "Root", "principalId": s.Account, "arn": "arn:aws:iam::" + s.Account + ":root", "accountId": s.Account}
		if role, session := s.sessionOf(r.Caller); role != "" {
			identity = map[string]any{"type": "AssumedRole", "arn": session,
				"accountId": s.Account, "sessionContext": map[string]any{"sessionIssuer": map[string]any{"type": "Role", "arn": role, "accountId": s.Account}}}
		}
		rec := map[string]any{
			"eventVersion": "1.11", "userIdentity": identity, "eventTime": r.Time.UTC().Format("2006-01-02T15:04:05Z"),
			"eventSource": source, "eventName": r.Operation, "awsRegion": s.Region, "sourceIPAddress": "127.0.0.1",
			"userAgent": "sandbox", "requestParameters": nil, "responseElements": nil, "requestID": r.RequestID,
			"eventID": core.NewUUID(), "readOnly": readOnly(r.Operation), "eventType": "AwsApiCall", "managementEvent": true,
			"recipientAccountId": s.Account, "eventCategory": "Management",
		}
		if r.ErrorCode != "" {
			rec["errorCode"] = r.ErrorCode
		}
		out = append(out, rec)
	}
	return out, last
}

// readOnly reports whether an operation only reads, as CloudTrail's readOnly field says.
func readOnly(op string) bool {
	for _, p := range []string{"Get", "Describe", "List", "Head", "Lookup"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}
