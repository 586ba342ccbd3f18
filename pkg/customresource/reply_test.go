package customresource_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"

	"github.com/strongroom/strongroom/pkg/customresource"
)

func event(physical string) *cfn.Event {
	return &cfn.Event{RequestType: cfn.RequestCreate, RequestID: "req-1", ResponseURL: "http://127.0.0.1/x",
		StackID: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1", LogicalResourceID: "Cluster", PhysicalResourceID: physical}
}

func TestBuild(t *testing.T) {
	cases := []struct {
		name      string
		ev        *cfn.Event
		o         customresource.Outcome
		wantID    string
		wantInRsn string
	}{
		{"success names the cluster", event(""), customresource.Outcome{Status: cfn.StatusSuccess, PhysicalResourceID: "cluster-abc"}, "cluster-abc", ""},
		{"failed create with nothing made", event(""), customresource.Outcome{Status: cfn.StatusFailed, Reason: "SubnetIds: give two"}, "strongroom-none-req-1", "SubnetIds"},
		{"failed update keeps the id", event("cluster-abc"), customresource.Outcome{Status: cfn.StatusFailed, Reason: "Mode: immutable"}, "cluster-abc", "Mode"},
		{"failed without reason gets one", event(""), customresource.Outcome{Status: cfn.StatusFailed}, "strongroom-none-req-1", "without a reason"},
		{"long reason is cut to fit", event(""), customresource.Outcome{Status: cfn.StatusFailed, Reason: strings.Repeat("é", 5000)}, "strongroom-none-req-1", "[...truncated]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := customresource.Build(tc.ev, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(r)
			if len(b) > customresource.MaxBody {
				t.Fatalf("body %d bytes", len(b))
			}
			if r.PhysicalResourceID != tc.wantID || !strings.Contains(r.Reason, tc.wantInRsn) {
				t.Fatalf("got id %q reason %q", r.PhysicalResourceID, r.Reason)
			}
			if r.RequestID != "req-1" || r.LogicalResourceID != "Cluster" || r.StackID == "" {
				t.Fatalf("echo fields: %+v", r)
			}
			if !json.Valid(b) || strings.ContainsRune(r.Reason, '\uFFFD') {
				t.Fatal("reason cut inside a character")
			}
		})
	}
	if _, err := customresource.Build(event(""), customresource.Outcome{Status: cfn.StatusSuccess, PhysicalResourceID: "c", Data: map[string]any{"X": strings.Repeat("a", 5000)}}); !errors.Is(err, customresource.ErrDataTooLarge) {
		t.Fatalf("oversized data: %v", err)
	}
	if _, err := customresource.Build(event(""), customresource.Outcome{Status: "OK"}); err == nil {
		t.Fatal("bad status accepted")
	}
	if !customresource.NamesNoResource("strongroom-none-req-1") || customresource.NamesNoResource("cluster-abc") {
		t.Fatal("NamesNoResource")
	}
}
