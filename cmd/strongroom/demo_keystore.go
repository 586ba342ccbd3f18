package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/strongroom/strongroom/pkg/sandbox/cloudformation"
	"github.com/strongroom/strongroom/pkg/sandbox/deploy"
)

// keyStoreStack is the key store stack's name in cdk.out; it imports the cluster stack's exports,
// so it is deployed by the same Deployer after the cluster stack.
const keyStoreStack = "StrongroomKeyStore"

// keyStoreResourceType is the custom resource the key store stack declares.
const keyStoreResourceType = "Custom::CloudHsmKeyStore"

// demoMessage is what the demo encrypts under a key in the store (not a secret: it is printed).
const demoMessage = "attack at dawn"

// keyStore runs inside the cluster section, while the cluster is ACTIVE with its two HSMs in two
// zones (what CreateCustomKeyStore needs): it deploys the key store stack (its Create workflow
// creates kmsuser, the store, and connects it), uses the store through KMS, then deletes the stack
// with the template's DeleteKeyStoreOnStackDeletion (false by default: the store is disconnected
// and kept). The watcher w prints the store's workflow states and ConnectionState changes. It runs
// with the clock running and leaves it so; the deploy stops it while functions are registered. It
// returns the summary's fragment.
func (d *demo) keyStore(ctx context.Context, w *watcher, clusterID string) (string, error) {
	p := d.p
	p.heading("3a. KMS custom key store: Custom::CloudHsmKeyStore -> Step Functions -> Lambda steps, on cluster " + clusterID)
	template := d.template(keyStoreStack)
	if _, err := os.Stat(template); err != nil {
		p.line("skipped: cdk.out has no %s (%s): cdk.out predates it (make synth)", keyStoreStack, filepath.Base(template))
		return "key store skipped (not in cdk.out)", nil
	}
	dep, err := d.deployWatched(ctx, w, keyStoreStack, keyStoreResourceType, "key store Create",
		"; it imports the cluster stack's exports (ClusterId, client instance, secrets)")
	if err == nil {
		err = d.testAlarms(ctx)
	}
	if err != nil {
		return "", err
	}
	st, id, created := dep.st, dep.id, dep.created
	if got := humanValue(created.Event.ResourceProperties["ClusterId"]); got != clusterID {
		return "", fmt.Errorf("the key store's imported ClusterId is %q; want the cluster stack's %s", got, clusterID)
	}
	storeID := created.PhysicalResourceID
	deleteOnStackDeletion := humanValue(created.Event.ResourceProperties["DeleteKeyStoreOnStackDeletion"])

	// The secret scan at the end must look for the kmsuser passwords: the one the workflow stored
	// in Secrets Manager and those KMS generated on connect. Checked here, so it cannot go stale.
	pwName := humanValue(created.Event.ResourceProperties["KmsUserPasswordSecretName"])
	pw, err := sm.NewFromConfig(d.aws).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(pwName)})
	if err != nil {
		return "", fmt.Errorf("read the kmsuser password secret %s: %w", pwName, err)
	}
	if !slices.Contains(d.sb.SecretValues(), aws.ToString(pw.SecretString)) {
		return "", fmt.Errorf("the kmsuser password in secret %s is not among the values the secret scan looks for", pwName)
	}
	p.line("the secret scan will look for the kmsuser password (secret %s) and the %d that KMS generated on connect", pwName, len(d.sb.KMS.SecretValues()))

	if err := d.printRotationSchedule(ctx, st); err != nil {
		return "", err
	}

	kc := kms.NewFromConfig(d.aws)
	store, err := connectedStore(ctx, kc, storeID, "its Create answered SUCCESS")
	if err != nil {
		return "", err
	}
	p.line("key store %s (%s) is CONNECTED to cluster %s (DescribeCustomKeyStores)", storeID, aws.ToString(store.CustomKeyStoreName), aws.ToString(store.CloudHsmClusterId))

	key, err := kc.CreateKey(ctx, &kms.CreateKeyInput{
		Origin: kmstypes.OriginTypeAwsCloudhsm, CustomKeyStoreId: aws.String(storeID),
		Description: aws.String("strongroom demo key in the CloudHSM key store"),
	})
	if err != nil {
		return "", fmt.Errorf("create a KMS key in key store %s: %w", storeID, err)
	}
	keyID := aws.ToString(key.KeyMetadata.KeyId)
	p.line("CreateKey (Origin AWS_CLOUDHSM, CustomKeyStoreId %s): key %s, %s, key material on cluster %s",
		storeID, keyID, key.KeyMetadata.KeyState, aws.ToString(key.KeyMetadata.CloudHsmClusterId))
	enc, err := kc.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte(demoMessage)})
	if err != nil {
		return "", fmt.Errorf("encrypt under key %s: %w", keyID, err)
	}
	p.line("Encrypt %q (%d bytes) -> ciphertext of %d bytes", demoMessage, len(demoMessage), len(enc.CiphertextBlob))
	// Decrypt names no key: KMS finds it from the ciphertext, as it does for any symmetric key.
	dec, err := kc.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		return "", fmt.Errorf("decrypt the ciphertext of key %s: %w", keyID, err)
	}
	if !bytes.Equal(dec.Plaintext, []byte(demoMessage)) || aws.ToString(dec.KeyId) != aws.ToString(key.KeyMetadata.Arn) {
		return "", fmt.Errorf("decrypt returned %q under %s; want %q under %s", dec.Plaintext, aws.ToString(dec.KeyId), demoMessage, aws.ToString(key.KeyMetadata.Arn))
	}
	p.line("Decrypt -> %q under key %s: round trip ok", dec.Plaintext, keyID)
	rotated, err := d.rotateKmsUser(ctx, w, dep, storeID, enc.CiphertextBlob, []byte(demoMessage))
	if err != nil {
		return "", err
	}

	alerts, err := d.keyStoreAlerts(ctx, w, dep, storeID)
	if err != nil {
		return "", fmt.Errorf("alerts: %w", err)
	}

	p.heading("3c. KMS custom key store " + storeID + ": delete the stack")
	p.line("deleting %s (DeleteKeyStoreOnStackDeletion is %s in the template: %s)", keyStoreStack, deleteOnStackDeletion,
		map[bool]string{true: "the store is deleted when it holds no KMS keys", false: "the store is disconnected and kept, with its keys"}[deleteOnStackDeletion == "true"])
	outs, err := d.deploy.Destroy(ctx, st)
	w.poll(ctx)
	deleted := outs[id]
	if deleted == nil {
		if err == nil {
			err = errors.New("the stack deletion sent it no Delete")
		}
		return "", fmt.Errorf("delete %s: no answer from %s: %w", keyStoreStack, id, err)
	}
	p.line("key store Delete answered %s: %s", deleted.Status, answerReason(deleted))
	if err != nil {
		return "", fmt.Errorf("delete %s: %w", keyStoreStack, err)
	}
	// Either way the store is kept: with DeleteKeyStoreOnStackDeletion=true it still holds the key.
	store, err = describeStore(ctx, kc, storeID)
	if err != nil {
		return "", fmt.Errorf("the key store should be kept after the stack's deletion: %w", err)
	}
	if store.ConnectionState != kmstypes.ConnectionStateTypeDisconnected {
		return "", fmt.Errorf("after the delete key store %s is %s; want DISCONNECTED", storeID, store.ConnectionState)
	}
	desc, err := kc.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return "", fmt.Errorf("describe key %s after the delete: %w", keyID, err)
	}
	_, encErr := kc.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(keyID), Plaintext: []byte(demoMessage)})
	var apiErr smithy.APIError
	if encErr == nil {
		return "", fmt.Errorf("encrypt under key %s of the disconnected store succeeded; want KMSInvalidStateException", keyID)
	}
	if !errors.As(encErr, &apiErr) || apiErr.ErrorCode() != "KMSInvalidStateException" {
		return "", fmt.Errorf("encrypt under key %s of the disconnected store: %w; want KMSInvalidStateException", keyID, encErr)
	}
	p.line("key store %s is DISCONNECTED and kept; key %s is %s (Encrypt now answers %s)", storeID, keyID, desc.KeyMetadata.KeyState, apiErr.ErrorCode())
	p.line("to remove the store too: ScheduleKeyDeletion on its keys, wait out the 7-30 day window, then delete the stack with DeleteKeyStoreOnStackDeletion=true")
	return fmt.Sprintf("key store %s: CONNECTED, Encrypt/Decrypt round trip, %s, %s, Delete kept it DISCONNECTED", storeID, rotated, alerts), nil
}

// printRotationSchedule prints the stack's scheduled rule for the kmsuser password rotation as
// EventBridge has it, or that there is none (the default), and fails when the template has one
// that EventBridge does not. The health check's scheduled rule (HealthCheckRule) is not it: the
// alerts part of the section shows that one.
func (d *demo) printRotationSchedule(ctx context.Context, st *deploy.Stack) error {
	eb := eventbridge.NewFromConfig(d.aws)
	found := false
	healthRule := resourceAt(st, "HealthCheckRule")
	for id, r := range st.Template.Resources {
		if r.Type != "AWS::Events::Rule" || r.Properties["ScheduleExpression"] == nil || id == healthRule {
			continue
		}
		found = true
		name := st.Physical(id)
		rule, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name)})
		if err != nil {
			return fmt.Errorf("describe the scheduled rule %s: %w", name, err)
		}
		targets, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(name)})
		if err != nil {
			return fmt.Errorf("list the targets of rule %s: %w", name, err)
		}
		if aws.ToString(rule.ScheduleExpression) == "" || len(targets.Targets) == 0 {
			return fmt.Errorf("rule %s has schedule %q and %d targets; want the template's schedule and its target", name, aws.ToString(rule.ScheduleExpression), len(targets.Targets))
		}
		p := d.p
		p.line("kmsuser password rotation: rule %s runs on %s, %s", name, aws.ToString(rule.ScheduleExpression), rule.State)
		for _, t := range targets.Targets {
			p.plain("      target %s", aws.ToString(t.Arn))
		}
	}
	if !found {
		// Off unless a maintenance window is configured: each run disconnects the store.
		d.p.line("kmsuser password rotation: no schedule (off by default; set strongroom:kmsUserRotationSchedule to a cron() window to turn it on)")
	}
	return nil
}

// describeStore returns one key store as DescribeCustomKeyStores sees it.
func describeStore(ctx context.Context, kc *kms.Client, id string) (kmstypes.CustomKeyStoresListEntry, error) {
	out, err := kc.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{CustomKeyStoreId: aws.String(id)})
	if err != nil {
		return kmstypes.CustomKeyStoresListEntry{}, fmt.Errorf("describe key store %s: %w", id, err)
	}
	if len(out.CustomKeyStores) != 1 {
		return kmstypes.CustomKeyStoresListEntry{}, fmt.Errorf("describe key store %s: %d stores found", id, len(out.CustomKeyStores))
	}
	return out.CustomKeyStores[0], nil
}

// connectedStore returns the key store as DescribeCustomKeyStores sees it, or an error saying it is
// not CONNECTED after what happened (after).
func connectedStore(ctx context.Context, kc *kms.Client, id, after string) (kmstypes.CustomKeyStoresListEntry, error) {
	store, err := describeStore(ctx, kc, id)
	if err == nil && store.ConnectionState != kmstypes.ConnectionStateTypeConnected {
		err = fmt.Errorf("after %s key store %s is %s; want CONNECTED", after, id, store.ConnectionState)
	}
	return store, err
}

// answerReason is the Reason the custom resource sent (a SUCCESS may carry one too), or
// CloudFormation's reason for a FAILED resource.
func answerReason(o *cloudformation.Outcome) string {
	if o.Status != "SUCCESS" {
		return o.Reason
	}
	if o.Answer != nil && o.Answer.Response != nil && o.Answer.Response.Reason != "" {
		return o.Answer.Response.Reason
	}
	return "(no reason given)"
}

// pollKeyStores prints each key store's ConnectionState change (and ConnectionErrorCode when
// FAILED), asking DescribeCustomKeyStores. The caller holds w.mu.
func (w *watcher) pollKeyStores(ctx context.Context) {
	out, err := w.kms.DescribeCustomKeyStores(ctx, &kms.DescribeCustomKeyStoresInput{})
	if err != nil {
		return
	}
	for _, s := range out.CustomKeyStores {
		id := aws.ToString(s.CustomKeyStoreId)
		state := string(s.ConnectionState)
		if s.ConnectionErrorCode != "" {
			state += " (" + string(s.ConnectionErrorCode) + ")"
		}
		if w.states[id] != state {
			w.d.p.line("  key store %s (%s): ConnectionState %s", id, aws.ToString(s.CustomKeyStoreName), transition(w.states[id], state))
			w.states[id] = state
		}
	}
}
