package secretsmanager_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
	"github.com/strongroom/strongroom/pkg/sandbox/secretsmanager"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// env is a complete sandbox (package sandboxtest) with a real SDK client and a rotation function
// stand-in registered with the sandbox's Lambda service.
type env struct {
	sb     *sandboxtest.Env
	svc    *secretsmanager.Service
	client *sm.Client
	fn     *rotationFunc
	fnARN  string
}

// newEnv starts the sandbox on a free loopback port (stopped by t.Cleanup) and registers the
// rotation function stand-in as the in-process Lambda function "rotate".
func newEnv(t testing.TB) *env {
	t.Helper()
	sb := sandboxtest.New(t)
	client := sm.NewFromConfig(sb.NoRetryConfig())
	fn := &rotationFunc{client: client}
	arn, err := sb.Lambda.RegisterHandler("rotate", func(ctx context.Context, payload []byte) ([]byte, error) {
		return fn.Invoke(ctx, "rotate", payload)
	})
	if err != nil {
		t.Fatalf("register rotation function: %v", err)
	}
	return &env{sb: sb, svc: sb.SecretsManager, client: client, fn: fn, fnARN: arn}
}

// rotationFunc stands in for a rotation Lambda, registered with the service as its
// core.LambdaInvoker. It follows the protocol of AWS's rotation templates through a real SDK
// client over HTTP: createSecret stores a new password as AWSPENDING (unless already there),
// finishSecret moves AWSCURRENT. It records every event it receives.
type rotationFunc struct {
	client *sm.Client

	mu     sync.Mutex
	events []map[string]any // decoded payloads, in arrival order
	names  []string         // the function name each invocation was for
	failAt string           // a step that fails with a function error
}

func (f *rotationFunc) setFailAt(step string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAt = step
}

func (f *rotationFunc) received() ([]map[string]any, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events), slices.Clone(f.names)
}

func (f *rotationFunc) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	var ev map[string]any
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, &core.FunctionError{Type: "Runtime.UnmarshalError", Message: err.Error()}
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.names = append(f.names, function)
	failAt := f.failAt
	f.mu.Unlock()
	step, _ := ev["Step"].(string)
	arn, _ := ev["SecretId"].(string)
	tok, _ := ev["ClientRequestToken"].(string)
	if step == failAt {
		return nil, &core.FunctionError{Type: "RetryableError", Message: "database refused the connection during " + step}
	}
	d, err := f.client.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: &arn})
	if err != nil {
		return nil, &core.FunctionError{Type: "DescribeError", Message: err.Error()}
	}
	if !slices.Contains(d.VersionIdsToStages[tok], "AWSPENDING") {
		return nil, &core.FunctionError{Type: "ValueError", Message: "version " + tok + " not set as AWSPENDING"}
	}
	switch step {
	case "createSecret":
		if _, err := f.client.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: &arn, VersionId: &tok, VersionStage: aws.String("AWSPENDING")}); err == nil {
			return nil, nil // already done
		}
		pw, err := f.client.GetRandomPassword(ctx, &sm.GetRandomPasswordInput{ExcludeCharacters: aws.String(`/@"'\`)})
		if err != nil {
			return nil, &core.FunctionError{Type: "PasswordError", Message: err.Error()}
		}
		value := fmt.Sprintf(`{"username":"app","password":%q}`, *pw.RandomPassword)
		if _, err := f.client.PutSecretValue(ctx, &sm.PutSecretValueInput{
			SecretId: &arn, ClientRequestToken: &tok, SecretString: &value,
			VersionStages: []string{"AWSPENDING"}, RotationToken: aws.String(ev["RotationToken"].(string)),
		}); err != nil {
			return nil, &core.FunctionError{Type: "PutError", Message: err.Error()}
		}
	case "finishSecret":
		var current string
		for id, stages := range d.VersionIdsToStages {
			if slices.Contains(stages, "AWSCURRENT") {
				current = id
			}
		}
		if current == tok {
			return nil, nil
		}
		if _, err := f.client.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{
			SecretId: &arn, VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: &tok, RemoveFromVersionId: &current,
		}); err != nil {
			return nil, &core.FunctionError{Type: "StageError", Message: err.Error()}
		}
	}
	return nil, nil
}

// waitRotation waits (bounded) until no rotation of id is running.
func waitRotation(t testing.TB, svc *secretsmanager.Service, id string) {
	t.Helper()
	for i := 0; i < 1000; i++ {
		busy, err := svc.Rotating(id)
		if err != nil {
			t.Fatalf("rotating %s: %v", id, err)
		}
		if !busy {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("rotation of %s still running after 5 s", id)
}

func stagesOf(t *testing.T, e *env, id string) map[string][]string {
	t.Helper()
	d, err := e.client.DescribeSecret(context.Background(), &sm.DescribeSecretInput{SecretId: &id})
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	for _, s := range d.VersionIdsToStages {
		slices.Sort(s)
	}
	return d.VersionIdsToStages
}

func holder(stages map[string][]string, label string) string {
	var ids []string
	for id, ls := range stages {
		if slices.Contains(ls, label) {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, ",")
}
