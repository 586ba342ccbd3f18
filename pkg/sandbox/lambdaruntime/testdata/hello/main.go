// Command hello is the smallest aws-lambda-go function: the cold-start baseline that Strongroom's
// bootstraps are compared with (BenchmarkColdStarts in lambdas/coldstart_test.go).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, name string) (string, error) {
		return "hello " + name, nil
	})
}
