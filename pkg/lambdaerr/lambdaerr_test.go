package lambdaerr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// errorTypeOf applies aws-lambda-go's naming rule (lambda/errors.go, lambdaErrorResponse): the Go
// type name, dereferenced once for pointers. The sandbox's Lambda tests check the same names end to
// end through the real runtime.
func errorTypeOf(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		return t.Elem().Name()
	}
	return t.Name()
}

func TestClassify(t *testing.T) {
	throttle := &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded"}
	notFound := &types.ResourceNotFoundException{Message: strPtr("Secrets Manager can't find the specified secret.")}
	cases := []struct {
		name     string
		err      error
		wantType string
	}{
		{"throttling is retryable", fmt.Errorf("describe clusters: %w", throttle), lambdaerr.NameRetryable},
		{"network error is retryable", fmt.Errorf("call: %w", &net.OpError{Op: "dial", Err: errors.New("refused")}), lambdaerr.NameRetryable},
		{"deadline is retryable", fmt.Errorf("wait: %w", context.DeadlineExceeded), lambdaerr.NameRetryable},
		{"service 4xx is terminal", fmt.Errorf("get secret: %w", notFound), lambdaerr.NameTerminal},
		{"plain error is terminal", errors.New("boom"), lambdaerr.NameTerminal},
		{"explicit terminal wins over retryable cause", lambdaerr.Terminal("SubnetIds: give two or more", throttle), lambdaerr.NameTerminal},
		{"explicit retryable wrapped stays retryable", fmt.Errorf("step: %w", lambdaerr.Retryable("cluster not ACTIVE yet", nil)), lambdaerr.NameRetryable},
		{"outermost classification wins", lambdaerr.Terminal("give up", lambdaerr.Retryable("x", nil)), lambdaerr.NameTerminal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := lambdaerr.Classify(tc.err)
			if n := errorTypeOf(got); n != tc.wantType {
				t.Fatalf("errorType = %q, want %q (err %v)", n, tc.wantType, got)
			}
			if got.Error() != tc.err.Error() {
				t.Fatalf("message changed: %q -> %q", tc.err.Error(), got.Error())
			}
		})
	}
	if lambdaerr.Classify(nil) != nil {
		t.Fatal("Classify(nil) must be nil")
	}
}

func TestWrapClassifiesAndKeepsOutput(t *testing.T) {
	h := lambdaerr.Wrap(slog.New(slog.NewJSONHandler(io.Discard, nil)), func(_ context.Context, in int) (int, error) {
		if in < 0 {
			return 0, fmt.Errorf("negative input %d: %w", in, errors.New("bad"))
		}
		return in * 2, nil
	})
	if out, err := h(context.Background(), 21); err != nil || out != 42 {
		t.Fatalf("got %d, %v", out, err)
	}
	_, err := h(context.Background(), -1)
	if errorTypeOf(err) != lambdaerr.NameTerminal {
		t.Fatalf("errorType %q", errorTypeOf(err))
	}
}

func strPtr(s string) *string { return &s }
