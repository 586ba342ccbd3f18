package rotation_test

import (
	"slices"
	"testing"

	"github.com/strongroom/strongroom/pkg/rotation"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

func TestIAMActionsAreTheClientsMethods(t *testing.T) {
	sandboxtest.WantMethodActions[rotation.SecretsManager](t, "secretsmanager", slices.Concat(rotation.SecretActions, rotation.AccountActions), nil)
	if !slices.Contains(rotation.SecretActions, rotation.MasterSecretActions[0]) || len(rotation.MasterSecretActions) != 1 {
		t.Errorf("MasterSecretActions %v: the superuser's secret is only read", rotation.MasterSecretActions)
	}
}
