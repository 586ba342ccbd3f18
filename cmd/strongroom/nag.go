package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/strongroom/strongroom/pkg/nagreport"
)

func init() {
	commands["nag-report"] = command{
		summary: "fail on any unsuppressed cdk-nag finding in a cloud assembly (nag-report cdk.out)",
		run:     runNagReport,
	}
}

// runNagReport checks every cdk-nag report in the cloud assembly directory named by its one argument.
func runNagReport(_ context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: strongroom nag-report <cdk.out directory>")
	}
	rep, err := nagreport.Read(args[0])
	if err != nil {
		return err
	}
	if err := rep.Err(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stdout, "nag-report: %s: %s\n", args[0], rep.Summary())
	return nil
}
