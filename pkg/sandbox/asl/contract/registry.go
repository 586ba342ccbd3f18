package contract

import (
	"context"
	"fmt"
	"reflect"
	"sort"

	"github.com/strongroom/strongroom/pkg/customresource"
	clusteractivate "github.com/strongroom/strongroom/pkg/hsmcluster/activate"
	clustercheck "github.com/strongroom/strongroom/pkg/hsmcluster/check"
	clustercreate "github.com/strongroom/strongroom/pkg/hsmcluster/create"
	clusterdelete "github.com/strongroom/strongroom/pkg/hsmcluster/delete"
	clusterdescribe "github.com/strongroom/strongroom/pkg/hsmcluster/describe"
	clusteringress "github.com/strongroom/strongroom/pkg/hsmcluster/ingress"
	clusterinitialize "github.com/strongroom/strongroom/pkg/hsmcluster/initialize"
	clusterpassword "github.com/strongroom/strongroom/pkg/hsmcluster/password"
	clusterplan "github.com/strongroom/strongroom/pkg/hsmcluster/plan"
	clusterreport "github.com/strongroom/strongroom/pkg/hsmcluster/report"
	clusterscale "github.com/strongroom/strongroom/pkg/hsmcluster/scale"
	clustersettings "github.com/strongroom/strongroom/pkg/hsmcluster/settings"
	clustersign "github.com/strongroom/strongroom/pkg/hsmcluster/sign"
	storeconnection "github.com/strongroom/strongroom/pkg/keystore/connection"
	storecreate "github.com/strongroom/strongroom/pkg/keystore/create"
	storedelete "github.com/strongroom/strongroom/pkg/keystore/delete"
	storedescribe "github.com/strongroom/strongroom/pkg/keystore/describe"
	storepassword "github.com/strongroom/strongroom/pkg/keystore/password"
	storeplan "github.com/strongroom/strongroom/pkg/keystore/plan"
	storeupdate "github.com/strongroom/strongroom/pkg/keystore/update"
	storeuser "github.com/strongroom/strongroom/pkg/keystore/user"
	"github.com/strongroom/strongroom/pkg/runcommand"
)

// Step is a workflow step's Lambda handler: the method lambdas/<Function>/main.go hands to
// lambdaenv.Start, Handle(ctx, In) (Out, error) on Receiver.
type Step struct {
	// Function is the Lambda's name (lambdas/<Function>, resourcedef's Function.Name).
	Function string
	// Receiver is the handler's receiver type (a pointer to the step's struct).
	Receiver reflect.Type
	// In is what the step decodes its payload into; Out is what it returns, encoded by
	// encoding/json (the Lambda runtime's encoding).
	In, Out reflect.Type
}

// Steps maps each workflow step's function name to its handler, taken from the method value of
// the type its main wires (a test holds this to pkg/resourcedef and to lambdas/*/main.go).
var Steps = registry(map[string]any{
	"cfn-answer":          (*customresource.Answer).Handle,
	"command-status":      (*runcommand.Check).Handle,
	"cluster-activate":    (*clusteractivate.Activate).Handle,
	"cluster-check":       (*clustercheck.CheckEnvironment).Handle,
	"cluster-ingress":     (*clusteringress.AllowClient).Handle,
	"cluster-create":      (*clustercreate.CreateCluster).Handle,
	"cluster-delete":      (*clusterdelete.DeleteCluster).Handle,
	"cluster-describe":    (*clusterdescribe.Describe).Handle,
	"cluster-initialize":  (*clusterinitialize.Initialize).Handle,
	"cluster-password":    (*clusterpassword.StorePassword).Handle,
	"cluster-plan":        (*clusterplan.PlanRequest).Handle,
	"cluster-report":      (*clusterreport.Report).Handle,
	"cluster-scale":       (*clusterscale.Scale).Handle,
	"cluster-settings":    (*clustersettings.Apply).Handle,
	"cluster-sign":        (*clustersign.SignCSR).Handle,
	"keystore-connection": (*storeconnection.Connection).Handle,
	"keystore-create":     (*storecreate.Create).Handle,
	"keystore-delete":     (*storedelete.Delete).Handle,
	"keystore-describe":   (*storedescribe.Describe).Handle,
	"keystore-password":   (*storepassword.Password).Handle,
	"keystore-plan":       (*storeplan.PlanRequest).Handle,
	"keystore-update":     (*storeupdate.Update).Handle,
	"keystore-user":       (*storeuser.User).Handle,
})

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
)

func registry(handlers map[string]any) map[string]Step {
	out := make(map[string]Step, len(handlers))
	for name, h := range handlers {
		s, err := StepOf(name, h)
		if err != nil {
			panic(err)
		}
		out[name] = s
	}
	return out
}

// StepOf reads a handler's types from its method expression, (*T).Handle, whose type is
// func(*T, context.Context, In) (Out, error).
func StepOf(function string, handle any) (Step, error) {
	t := reflect.TypeOf(handle)
	if t == nil || t.Kind() != reflect.Func || t.NumIn() != 3 || t.NumOut() != 2 ||
		t.In(1) != contextType || t.Out(1) != errorType {
		return Step{}, fmt.Errorf("step %s: handler %v is not a method expression func(*T, context.Context, In) (Out, error)", function, t)
	}
	return Step{Function: function, Receiver: t.In(0), In: t.In(2), Out: t.Out(0)}, nil
}

// StepNames lists Steps' function names, sorted.
func StepNames() []string {
	var out []string
	for n := range Steps {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
