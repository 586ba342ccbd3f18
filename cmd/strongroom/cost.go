package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/strongroom/strongroom/pkg/cost"
)

// costOut receives what cost prints (tests replace it).
var costOut io.Writer = os.Stdout

// runCost prints the hourly and monthly cost of what each stack of a cloud assembly creates
// (pkg/cost), for `make synth` and, before it deploys, `make deploy`.
func runCost(_ context.Context, args []string) error {
	fs := newFlagSet("cost", []string{"strongroom cost [-region REGION] [-stacks \"A B\"] <cdk.out directory>"}, `
Print, per stack of a synthesized cloud assembly, the hourly and monthly (730 h) cost of what its
template creates that AWS bills by the hour: CloudHSM HSMs by type, EC2 and RDS instances, NAT
gateways, interface VPC endpoints per zone, public IPv4 addresses. Prices come from the table in
pkg/cost/prices.go, dated and with their source pages; an item whose type or region the table does
not know says "no price known" and the stack's total is then a lower bound.

A stack pinned to a region is priced there; an environment-agnostic one in -region.`)
	region := fs.String("region", "us-east-1", "the region to price environment-agnostic stacks in")
	stacks := fs.String("stacks", "", "only these stacks (space-separated names); default every stack")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		return usageErrorf(fs, "missing the cloud assembly directory, for example cdk.out")
	case 1:
	default:
		return usageErrorf(fs, "unexpected argument %q: cost reads one cloud assembly directory", fs.Arg(1))
	}
	if strings.TrimSpace(*region) == "" {
		*region = "us-east-1"
	}
	est, err := cost.Assembly(fs.Arg(0), strings.TrimSpace(*region), strings.Fields(*stacks))
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(costOut, cost.Format(est))
	return err
}
