package dbuser_test

import (
	"testing"

	"github.com/strongroom/strongroom/pkg/dbuser"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

func TestIAMActionsAreTheClientsMethods(t *testing.T) {
	sandboxtest.WantMethodActions[dbuser.SecretsManager](t, "secretsmanager", dbuser.SecretActions, nil)
}
