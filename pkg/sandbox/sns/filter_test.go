package sns

import "testing"

func TestFilterPolicy(t *testing.T) {
	attrs := map[string]MessageAttribute{
		"severity": {DataType: "String", StringValue: "critical"},
		"source":   {DataType: "String", StringValue: "cloudhsm.amazonaws.com"},
		"score":    {DataType: "Number", StringValue: "7.5"},
		"regions":  {DataType: "String.Array", StringValue: `["us-east-1","eu-west-1"]`},
		"ip":       {DataType: "String", StringValue: "10.0.1.17"},
		"blob":     {DataType: "Binary", BinaryValue: []byte("x")},
	}
	cases := []struct {
		name   string
		policy string
		want   bool
	}{
		{"exact", `{"severity":["critical"]}`, true},
		{"exact miss", `{"severity":["low"]}`, false},
		{"or within key", `{"severity":["low","critical"]}`, true},
		{"and across keys", `{"severity":["critical"],"source":["kms.amazonaws.com"]}`, false},
		{"prefix", `{"source":[{"prefix":"cloudhsm"}]}`, true},
		{"suffix", `{"source":[{"suffix":".amazonaws.com"}]}`, true},
		{"equals-ignore-case", `{"severity":[{"equals-ignore-case":"CRITICAL"}]}`, true},
		{"anything-but value", `{"severity":[{"anything-but":"low"}]}`, true},
		{"anything-but list hit", `{"severity":[{"anything-but":["low","critical"]}]}`, false},
		{"anything-but prefix", `{"source":[{"anything-but":{"prefix":"signin"}}]}`, true},
		{"anything-but missing attribute", `{"missing":[{"anything-but":"x"}]}`, false},
		{"numeric range", `{"score":[{"numeric":[">",5,"<=",7.5]}]}`, true},
		{"numeric outside", `{"score":[{"numeric":["<",5]}]}`, false},
		{"numeric exact", `{"score":[7.5]}`, true},
		{"string vs number", `{"score":["7.5"]}`, false},
		{"exists true", `{"severity":[{"exists":true}]}`, true},
		{"exists false on present", `{"severity":[{"exists":false}]}`, false},
		{"exists false on missing", `{"missing":[{"exists":false}]}`, true},
		{"string array element", `{"regions":["eu-west-1"]}`, true},
		{"string array miss", `{"regions":["ap-south-1"]}`, false},
		{"cidr", `{"ip":[{"cidr":"10.0.0.0/16"}]}`, true},
		{"binary never matches", `{"blob":["x"]}`, false},
		{"$or", `{"$or":[{"severity":["low"]},{"source":[{"prefix":"cloudhsm"}]}]}`, true},
		{"$or none", `{"$or":[{"severity":["low"]},{"source":["kms"]}]}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePolicy(tc.policy, false)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := p.matches(attributeLookup(attrs)); got != tc.want {
				t.Fatalf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterPolicyBodyScope(t *testing.T) {
	body := `{"source":"aws.secretsmanager","detail":{"eventName":"RotationFailed","tags":["db","prod"],"n":3}}`
	cases := []struct {
		name, policy string
		want         bool
	}{
		{"nested exact", `{"detail":{"eventName":["RotationFailed"]}}`, true},
		{"nested and top", `{"source":["aws.secretsmanager"],"detail":{"n":[{"numeric":[">",2]}]}}`, true},
		{"array element", `{"detail":{"tags":["prod"]}}`, true},
		{"missing path", `{"detail":{"other":["x"]}}`, false},
		{"nested exists false", `{"detail":{"other":[{"exists":false}]}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePolicy(tc.policy, true)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.matches(bodyLookup(body)); got != tc.want {
				t.Fatalf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterPolicyRefused(t *testing.T) {
	cases := []struct{ name, policy string }{
		{"not json", `{`},
		{"not an array", `{"a":"b"}`},
		{"empty array", `{"a":[]}`},
		{"nested in attribute scope", `{"a":{"b":["c"]}}`},
		{"six keys", `{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}`},
		{"too many combinations", `{"a":["1","2","3","4","5","6"],"b":["1","2","3","4","5","6"],"c":["1","2","3","4","5"]}`},
		{"unknown operator", `{"a":[{"regex":"x"}]}`},
		{"bad numeric", `{"a":[{"numeric":["~",1]}]}`},
		{"exists not bool", `{"a":[{"exists":"yes"}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parsePolicy(tc.policy, false); err == nil {
				t.Fatalf("policy %s was accepted", tc.policy)
			}
		})
	}
}
