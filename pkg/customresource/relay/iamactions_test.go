package relay_test

import (
	"testing"

	"github.com/strongroom/strongroom/pkg/customresource/relay"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

func TestIAMActionsAreTheClientsMethods(t *testing.T) {
	sandboxtest.WantMethodActions[relay.Invoker](t, "lambda", relay.InvokeActions, map[string]string{"Invoke": "lambda:InvokeFunction"})
}
