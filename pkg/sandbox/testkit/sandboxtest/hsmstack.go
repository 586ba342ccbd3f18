package sandboxtest

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/strongroom/strongroom/pkg/hsmdocs"
	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/cloudhsm"
	"github.com/strongroom/strongroom/pkg/sandbox/ec2"
	"github.com/strongroom/strongroom/pkg/sandbox/secretsmanager"
	"github.com/strongroom/strongroom/pkg/sandbox/ssm"
)

// HSMStack is the HSM part of the sandbox (EC2, Secrets Manager, CloudHSM and SSM) on a server of
// its own, registered but not yet serving. It is for the service tests that need these services'
// Go handles as well as the wire (packages kms and ssm): they register what they add on Server,
// then call Serve.
type HSMStack struct {
	Server   *sandbox.Server
	EC2      *ec2.Service
	Secrets  *secretsmanager.Service
	CloudHSM *cloudhsm.Service
	SSM      *ssm.Service
}

// NewHSMStack builds the stack with its clock at scale. instances, when not nil, wraps EC2 as
// SSM's view of the instances (a test's power switch); opts configure SSM.
func NewHSMStack(scale float64, instances func(*ec2.Service) ssm.Instances, opts ...ssm.Option) *HSMStack {
	srv := sandbox.NewServer(sandbox.Options{Scale: scale})
	net := ec2.New(srv.Clock)
	var inst ssm.Instances = net
	if instances != nil {
		inst = instances(net)
	}
	secrets := secretsmanager.New(srv.Clock, nil)
	hsm := cloudhsm.New(srv.Clock, net)
	svc := ssm.New(srv.Clock, inst, hsm, append([]ssm.Option{ssm.WithDocuments(hsmdocs.Contents()), ssm.WithAWS(srv.InstanceAccess())}, opts...)...)
	srv.Recorder.AddSource("client instance processes and files", svc.Processes)
	srv.RegisterQuery(net)
	srv.RegisterJSON(secrets)
	srv.RegisterJSON(hsm)
	srv.RegisterJSON(svc)
	return &HSMStack{Server: srv, EC2: net, Secrets: secrets, CloudHSM: hsm, SSM: svc}
}

// Serve serves the stack for t (see Serve): when the test ends it runs closers (for the services
// the test added, which depend on the stack's), then closes SSM, CloudHSM and Secrets Manager.
func (h *HSMStack) Serve(t testing.TB, closers ...func()) aws.Config {
	t.Helper()
	return Serve(t, h.Server, append(closers, h.SSM.Close, h.CloudHSM.Close, h.Secrets.Close)...)
}
