// Package storecheck is the key store's health check: whether KMS holds the custom key store
// CONNECTED to its cluster, since every key in a store that is not is unusable.
package storecheck

import (
	"context"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/pkg/health"
	"github.com/strongroom/strongroom/pkg/health/emit"
	"github.com/strongroom/strongroom/pkg/keystore"
	"github.com/strongroom/strongroom/pkg/keystore/storeapi"
)

// ResourceType is the custom resource whose stores this package checks.
const ResourceType = "Custom::CloudHsmKeyStore"

// Check describes the store named by the custom resource's PhysicalResourceId and reports its
// connection. A store that is CONNECTING or DISCONNECTING is between two states a workflow or KMS
// is moving it through, so it yields no finding (the relay keeps the last one). A PhysicalResourceId
// that a failed Create answered (keystore.StoreOf) names a store the rollback is removing: nothing
// to report either.
func Check(ctx context.Context, api storeapi.StoreDescriber, physicalID string, now time.Time) ([]health.Finding, error) {
	id, failedCreate := keystore.StoreOf(physicalID)
	if failedCreate {
		return nil, nil
	}
	v, err := storeapi.DescribeStore(ctx, api, id)
	if err != nil {
		return nil, fmt.Errorf("check key store %s: %w", id, err)
	}
	bad := func(summary, fix string) []health.Finding {
		return []health.Finding{health.Unhealthy(ResourceType, id, health.KeyStoreConnection, health.Critical, summary, fix, now)}
	}
	connect := fmt.Sprintf("connect it (aws kms connect-custom-key-store --custom-key-store-id %s) and wait for CONNECTED; if it was disconnected on purpose, this alert says so until it is connected again", id)
	switch v.State {
	case "CONNECTED":
		return []health.Finding{health.Healthy(ResourceType, id, health.KeyStoreConnection,
			fmt.Sprintf("key store %s (%s) is CONNECTED to cluster %s", id, v.Name, v.ClusterID), now)}, nil
	case "CONNECTING", "DISCONNECTING":
		return nil, nil
	case "FAILED":
		return bad(fmt.Sprintf("key store %s (%s) failed to connect to cluster %s: every key in it is unusable", id, v.Name, v.ClusterID),
			keystore.Explain(v.ConnectionErrorCode)), nil
	case "DISCONNECTED":
		return bad(fmt.Sprintf("key store %s (%s) is DISCONNECTED from cluster %s: every key in it is unusable", id, v.Name, v.ClusterID), connect), nil
	}
	if !v.Found {
		return bad(fmt.Sprintf("KMS has no key store %s: it was deleted outside its stack, and the keys it held are gone with it", id),
			"find who deleted it in CloudTrail (DeleteCustomKeyStore); recreate it by replacing the stack's key store resource"), nil
	}
	return bad(fmt.Sprintf("key store %s (%s) is in connection state %s, which Strongroom does not know", id, v.Name, v.State), connect), nil
}

// Step is the keystore-health function: it checks the store and sends the findings.
type Step struct {
	KMS    storeapi.StoreDescriber
	Events emit.Putter
	Now    func() time.Time
}

// Handle checks the store in.ResourceID and sends what it found; an input without one is refused
// naming the field (the rule's input is rendered by infra/workflowresource).
func (s *Step) Handle(ctx context.Context, in health.Input) (health.Report, error) {
	if in.ResourceID == "" {
		return health.Report{}, fmt.Errorf("%w: ResourceId is empty; the rule's input must carry the key store resource's PhysicalResourceId", health.ErrInvalid)
	}
	findings, err := Check(ctx, s.KMS, in.ResourceID, s.Now())
	if err != nil {
		return health.Report{}, err
	}
	if err := emit.Send(ctx, s.Events, "", findings); err != nil {
		return health.Report{}, err
	}
	return health.ReportOf(findings), nil
}
