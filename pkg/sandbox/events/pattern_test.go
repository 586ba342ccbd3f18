package events_test

import (
	"errors"
	"os"
	"testing"

	"github.com/strongroom/strongroom/pkg/sandbox/events"
)

func TestPatternMatch(t *testing.T) {
	event, err := os.ReadFile("testdata/cloudtrail-delete-secret.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		pattern string
		want    bool
	}{
		{"exact source", `{"source":["aws.secretsmanager"]}`, true},
		{"other source", `{"source":["aws.kms"]}`, false},
		{"array is OR", `{"source":["aws.kms","aws.secretsmanager"]}`, true},
		{"all fields AND", `{"source":["aws.secretsmanager"],"detail-type":["AWS Console Sign In via CloudTrail"]}`, false},
		{"nested exact", `{"detail":{"eventName":["DeleteSecret","ScheduleKeyDeletion"]}}`, true},
		{"nested deep", `{"detail":{"userIdentity":{"sessionContext":{"attributes":{"mfaAuthenticated":["true"]}}}}}`, true},
		{"prefix", `{"detail":{"eventName":[{"prefix":"Delete"}]}}`, true},
		{"prefix no", `{"detail":{"eventName":[{"prefix":"Create"}]}}`, false},
		{"prefix ignore case", `{"detail":{"eventName":[{"prefix":{"equals-ignore-case":"delete"}}]}}`, true},
		{"suffix", `{"detail":{"eventSource":[{"suffix":".amazonaws.com"}]}}`, true},
		{"equals-ignore-case", `{"detail":{"eventName":[{"equals-ignore-case":"deletesecret"}]}}`, true},
		{"anything-but value", `{"detail":{"eventName":[{"anything-but":"GetSecretValue"}]}}`, true},
		{"anything-but list hit", `{"detail":{"eventName":[{"anything-but":["DeleteSecret","PutSecretValue"]}]}}`, false},
		{"anything-but prefix", `{"detail":{"eventName":[{"anything-but":{"prefix":"Get"}}]}}`, true},
		{"anything-but missing field", `{"detail":{"errorCode":[{"anything-but":"AccessDenied"}]}}`, false},
		{"exists true", `{"detail":{"requestParameters":{"secretId":[{"exists":true}]}}}`, true},
		{"exists false on missing", `{"detail":{"errorCode":[{"exists":false}]}}`, true},
		{"exists false on present", `{"detail":{"eventName":[{"exists":false}]}}`, false},
		{"exists true on object", `{"detail":{"userIdentity":[{"exists":true}]}}`, true},
		{"numeric range", `{"detail":{"requestParameters":{"recoveryWindowInDays":[{"numeric":[">",0,"<=",7]}]}}}`, true},
		{"numeric out of range", `{"detail":{"requestParameters":{"recoveryWindowInDays":[{"numeric":["<",7]}]}}}`, false},
		{"number exact", `{"detail":{"requestParameters":{"recoveryWindowInDays":[7]}}}`, true},
		{"number is not string", `{"detail":{"requestParameters":{"recoveryWindowInDays":["7"]}}}`, false},
		{"boolean", `{"detail":{"readOnly":[false]}}`, true},
		{"null", `{"detail":{"responseElements":[null]}}`, true},
		{"event array any element", `{"detail":{"tags":["b"]}}`, true},
		{"cidr", `{"detail":{"sourceIPAddress":[{"cidr":"203.0.113.0/24"}]}}`, true},
		{"cidr no", `{"detail":{"sourceIPAddress":[{"cidr":"10.0.0.0/8"}]}}`, false},
		{"wildcard", `{"detail":{"userIdentity":{"arn":[{"wildcard":"arn:aws:sts::*:assumed-role/Admin/*"}]}}}`, true},
		{"$or", `{"$or":[{"source":["aws.kms"]},{"detail":{"eventName":["DeleteSecret"]}}]}`, true},
		{"$or none", `{"$or":[{"source":["aws.kms"]},{"detail":{"eventName":["X"]}}]}`, false},
		{"missing field", `{"detail":{"nope":["x"]}}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := events.CompilePattern(tc.pattern)
			if err != nil {
				t.Fatalf("CompilePattern(%s): %v", tc.pattern, err)
			}
			if got := p.Match(event); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPatternInvalid(t *testing.T) {
	tests := []struct{ name, pattern string }{
		{"not JSON", `{"source":`},
		{"not an object", `["aws.kms"]`},
		{"scalar value", `{"source":"aws.kms"}`},
		{"empty array", `{"source":[]}`},
		{"unknown filter", `{"source":[{"regex":"a.*"}]}`},
		{"bad numeric operator", `{"n":[{"numeric":["!=",1]}]}`},
		{"exists not boolean", `{"n":[{"exists":"yes"}]}`},
		{"bad cidr", `{"ip":[{"cidr":"10.0.0.0"}]}`},
		{"$or with one branch", `{"$or":[{"source":["a"]}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.CompilePattern(tc.pattern)
			var perr *events.PatternError
			if !errors.As(err, &perr) {
				t.Fatalf("CompilePattern(%s) err = %v, want *PatternError", tc.pattern, err)
			}
		})
	}
}
