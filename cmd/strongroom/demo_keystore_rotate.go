package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// rotationWait bounds the rotation in wall time: a disconnect, a password change run on the client
// instance and a connect, with the sandbox clock stopped while each function and command runs, so
// a loaded machine stretches it (the mutation matrix runs demo sections side by side).
const rotationWait = 2 * time.Minute

// rotateKmsUser runs the key store's kmsuser password rotation once: the stack's RotateWorkflow
// (its RotateWorkflowArn output), started with the input the stack's schedule gives it
// (infra/keystore's RotationInput: the store's id and the resource's properties), as an operator
// starts it when strongroom:kmsUserRotationSchedule sets no schedule (the default). The workflow
// disconnects the store, sets a new kmsuser password on the cluster, stores it, gives it to KMS
// and connects again. Checked: the execution SUCCEEDED, the store is CONNECTED, the secret holds
// a new password that the secret scan looks for, and ciphertext made before the rotation still
// decrypts to plaintext. It returns the summary's fragment.
func (d *demo) rotateKmsUser(ctx context.Context, w *watcher, dep watchedDeploy, storeID string, ciphertext, plaintext []byte) (string, error) {
	p := d.p
	arn, err := dep.st.Output("RotateWorkflowArn")
	if err != nil {
		return "", fmt.Errorf("the key store stack's RotateWorkflowArn output: %w", err)
	}
	props := maps.Clone(dep.created.Event.ResourceProperties)
	delete(props, "ServiceToken") // CloudFormation's, not the resource's
	pwName := humanValue(props["KmsUserPasswordSecretName"])
	secrets := sm.NewFromConfig(d.aws)
	before, err := secrets.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(pwName)})
	if err != nil {
		return "", fmt.Errorf("read the kmsuser password secret %s: %w", pwName, err)
	}
	in, err := json.Marshal(map[string]any{"Rotation": map[string]any{"CustomKeyStoreId": storeID, "Properties": props}})
	if err != nil {
		return "", fmt.Errorf("the rotation's input: %w", err)
	}
	p.line("kmsuser password rotation, run once as its schedule would run it: StartExecution of %s", arn)
	sf := sfn.NewFromConfig(d.aws)
	started, err := sf.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(fmt.Sprint(arn)), Input: aws.String(string(in))})
	if err != nil {
		return "", fmt.Errorf("start the kmsuser password rotation: %w", err)
	}
	deadline := time.Now().Add(rotationWait)
	var ended *sfn.DescribeExecutionOutput
	for ended == nil {
		e, err := sf.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: started.ExecutionArn})
		if err != nil {
			return "", fmt.Errorf("describe the rotation's execution: %w", err)
		}
		switch {
		case e.Status != sfntypes.ExecutionStatusRunning:
			ended = e
		case time.Now().After(deadline):
			return "", fmt.Errorf("the kmsuser password rotation is still RUNNING after %s of wall time", rotationWait)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(watchInterval):
		}
	}
	w.poll(ctx)
	if ended.Status != sfntypes.ExecutionStatusSucceeded {
		return "", fmt.Errorf("the kmsuser password rotation ended %s: %s: %s", ended.Status, aws.ToString(ended.Error), firstLine(aws.ToString(ended.Cause)))
	}
	kc := kms.NewFromConfig(d.aws)
	if _, err := connectedStore(ctx, kc, storeID, "the rotation"); err != nil {
		return "", err
	}
	after, err := secrets.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(pwName)})
	if err != nil {
		return "", fmt.Errorf("read the kmsuser password secret %s after the rotation: %w", pwName, err)
	}
	switch {
	case aws.ToString(after.SecretString) == aws.ToString(before.SecretString):
		return "", fmt.Errorf("after the rotation secret %s holds the same kmsuser password", pwName)
	case !slices.Contains(d.sb.SecretValues(), aws.ToString(after.SecretString)):
		return "", fmt.Errorf("the rotated kmsuser password in secret %s is not among the values the secret scan looks for", pwName)
	}
	dec, err := kc.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: ciphertext})
	if err != nil {
		return "", fmt.Errorf("decrypt what was encrypted before the rotation: %w", err)
	}
	if !bytes.Equal(dec.Plaintext, plaintext) {
		return "", fmt.Errorf("after the rotation Decrypt returned %q; want %q", dec.Plaintext, plaintext)
	}
	p.line("rotation SUCCEEDED: secret %s holds a new kmsuser password (version %s, was %s), the store is CONNECTED again, and what was encrypted before it decrypts to %q",
		pwName, aws.ToString(after.VersionId), aws.ToString(before.VersionId), dec.Plaintext)
	return "kmsuser password rotated", nil
}
