package main

import (
	"context"
	"strings"
	"testing"
)

func TestNagReportCommand(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string // "" means success
	}{
		{"clean assembly", []string{"../../pkg/nagreport/testdata/compliant"}, ""},
		{"findings are listed", []string{"../../pkg/nagreport/testdata/findings"}, "AwsSolutions-DDB3 NagWarningCanary/Table/Resource"},
		{"no reports", []string{t.TempDir()}, "cdk-nag did not run"},
		{"no argument", nil, "usage: strongroom nag-report"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := commands["nag-report"].run(context.Background(), c.args)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}
