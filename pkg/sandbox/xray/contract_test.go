package xray_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsxray "github.com/aws/aws-sdk-go-v2/service/xray"
	"github.com/aws/aws-sdk-go-v2/service/xray/types"

	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// The SDK's X-Ray client (REST-JSON) against a complete sandbox: segments are stored and read back
// by trace id, a document missing a required field comes back unprocessed with its id, telemetry
// is accepted, the Default sampling rule and its target are answered, and an empty request is
// X-Ray's InvalidRequestException.
func TestXRayOverTheWire(t *testing.T) {
	sb := sandboxtest.New(t)
	ctx := context.Background()
	c := awsxray.NewFromConfig(sb.NoRetryConfig())
	const trace = "1-5f84c7a1-0123456789abcdef01234567"
	good := fmt.Sprintf(`{"name":"relay","id":"0123456789abcdef","trace_id":%q,"start_time":1602537377.1,"end_time":1602537377.6,"fault":true}`, trace)
	noEnd := fmt.Sprintf(`{"name":"relay","id":"fedcba9876543210","trace_id":%q,"start_time":1602537377.1}`, trace)
	out, err := c.PutTraceSegments(ctx, &awsxray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{good, noEnd}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.UnprocessedTraceSegments) != 1 || aws.ToString(out.UnprocessedTraceSegments[0].Id) != "fedcba9876543210" ||
		!strings.Contains(aws.ToString(out.UnprocessedTraceSegments[0].Message), "end_time") {
		t.Errorf("unprocessed %+v, want the segment without end_time", out.UnprocessedTraceSegments)
	}
	segs := sb.XRay.Segments()
	if len(segs) != 1 || segs[0].Name != "relay" || !segs[0].Fault || segs[0].TraceID != trace {
		t.Errorf("stored %+v, want the one valid segment", segs)
	}
	traces, err := c.BatchGetTraces(ctx, &awsxray.BatchGetTracesInput{TraceIds: []string{trace, "1-5f84c7a1-ffffffffffffffffffffffff"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(traces.Traces) != 1 || len(traces.Traces[0].Segments) != 1 || aws.ToString(traces.Traces[0].Segments[0].Document) != good ||
		len(traces.UnprocessedTraceIds) != 1 || aws.ToFloat64(traces.Traces[0].Duration) < 0.49 {
		t.Errorf("BatchGetTraces = %+v", traces)
	}
	if _, err := c.PutTelemetryRecords(ctx, &awsxray.PutTelemetryRecordsInput{TelemetryRecords: []types.TelemetryRecord{{Timestamp: aws.Time(sb.Clock.Now())}}}); err != nil || sb.XRay.TelemetryRecords() != 1 {
		t.Errorf("PutTelemetryRecords: %v, %d records", err, sb.XRay.TelemetryRecords())
	}
	rules, err := c.GetSamplingRules(ctx, &awsxray.GetSamplingRulesInput{})
	if err != nil || len(rules.SamplingRuleRecords) != 1 || aws.ToString(rules.SamplingRuleRecords[0].SamplingRule.RuleName) != "Default" ||
		rules.SamplingRuleRecords[0].SamplingRule.FixedRate != 0.05 {
		t.Fatalf("GetSamplingRules = %+v, %v", rules, err)
	}
	targets, err := c.GetSamplingTargets(ctx, &awsxray.GetSamplingTargetsInput{SamplingStatisticsDocuments: []types.SamplingStatisticsDocument{
		{RuleName: aws.String("Default"), ClientID: aws.String("0123456789abcdef01234567"), Timestamp: aws.Time(sb.Clock.Now()), RequestCount: 3, SampledCount: 1},
	}})
	if err != nil || len(targets.SamplingTargetDocuments) != 1 || aws.ToInt32(targets.SamplingTargetDocuments[0].ReservoirQuota) != 1 {
		t.Errorf("GetSamplingTargets = %+v, %v", targets, err)
	}
	_, err = c.PutTraceSegments(ctx, &awsxray.PutTraceSegmentsInput{TraceSegmentDocuments: []string{}})
	var ire *types.InvalidRequestException
	if !errors.As(err, &ire) {
		t.Errorf("no documents: %v, want InvalidRequestException", err)
	}
}
