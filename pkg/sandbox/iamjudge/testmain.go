package iamjudge

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// RunTests is the TestMain body of a test binary whose tests ask the judge: it starts one judge
// (within a minute) into *j, runs m, closes the judge and returns the exit code for os.Exit.
func RunTests(m *testing.M, j **Judge) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	started, err := Start(ctx, Options{})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*j = started
	defer func() { _ = started.Close() }()
	return m.Run()
}
