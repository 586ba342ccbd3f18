// Command behave is a test function for pkg/sandbox/lambdaruntime: its payload says how to behave, so one
// real aws-lambda-go binary exercises every outcome the emulator must report.
//
// The environment variable BEHAVE_INIT chooses an init failure: "exit" exits with status 3 before
// the runtime starts; "post" reports an init error through the Runtime API and exits.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// request is the test's instruction.
type request struct {
	Mode  string `json:"mode"`
	Value string `json:"value"`
	Sleep string `json:"sleep"`
}

// reply shows what the function saw of its environment and context.
type reply struct {
	Value        string `json:"value"`
	RequestID    string `json:"requestId"`
	FunctionARN  string `json:"functionArn"`
	FunctionName string `json:"functionName"`
	Memory       int    `json:"memory"`
	Region       string `json:"region"`
	Extra        string `json:"extra"`
	DeadlineMs   int64  `json:"deadlineMs"`
	TraceID      string `json:"traceId"`
}

func handle(ctx context.Context, in request) (reply, error) {
	switch in.Mode {
	case "terminal":
		return reply{}, lambdaerr.Terminal("bad input: field value: "+in.Value, nil)
	case "retryable":
		return reply{}, lambdaerr.Retryable("describe thing", errors.New(in.Value))
	case "panic":
		panic("boom: " + in.Value)
	case "exit":
		os.Exit(7)
	case "sleep":
		d, err := time.ParseDuration(in.Sleep)
		if err != nil {
			return reply{}, err
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return reply{}, ctx.Err()
		}
	case "big":
		return reply{Value: string(bytes.Repeat([]byte("x"), 7<<20))}, nil
	}
	lc, _ := lambdacontext.FromContext(ctx)
	dl, _ := ctx.Deadline()
	return reply{
		Value:        in.Value,
		RequestID:    lc.AwsRequestID,
		FunctionARN:  lc.InvokedFunctionArn,
		FunctionName: lambdacontext.FunctionName,
		Memory:       lambdacontext.MemoryLimitInMB,
		Region:       os.Getenv("AWS_REGION"),
		Extra:        os.Getenv("BEHAVE_EXTRA"),
		DeadlineMs:   dl.UnixMilli(),
		TraceID:      os.Getenv("_X_AMZN_TRACE_ID"),
	}, nil
}

func main() {
	switch os.Getenv("BEHAVE_INIT") {
	case "exit":
		fmt.Fprintln(os.Stderr, "init failed on purpose")
		os.Exit(3)
	case "post":
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"errorMessage":"config: TOPIC_ARN is not set","errorType":"ConfigError"}`)))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		os.Exit(1)
	}
	lambda.Start(handle)
}
