package trailalert_test

import (
	"testing"

	"github.com/strongroom/strongroom/pkg/alertstate"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
	"github.com/strongroom/strongroom/pkg/trailalert"
)

func TestIAMActionsAreTheClientsMethods(t *testing.T) {
	sandboxtest.WantMethodActions[trailalert.Publisher](t, "sns", trailalert.TopicActions, nil)
	sandboxtest.WantMethodActions[trailalert.ExecutionHistoryAPI](t, "states", trailalert.HistoryActions, nil)
	sandboxtest.WantMethodActions[alertstate.API](t, "dynamodb", alertstate.TableActions, nil)
}
