// Package dbuser is the database stack's Custom::DatabaseUser (lambdas/dbuser): it creates the
// application user that the user secret names, with the secret's password, REQUIRE SSL and the
// grants of its properties, logged in as the superuser secret's user, so the user secret's first
// rotation needs no SQL typed by hand (infra/database/README.md).
//
// The function runs in the database's VPC, which has no route to S3 and so cannot answer
// CloudFormation's pre-signed ResponseURL; lambdas/cfn-relay (pkg/customresource/relay) receives the
// request, invokes this function with it (without the ResponseURL) and answers with its outcome.
//
//   - Create and Update converge: only what differs is changed (rotation.ProvisionUser), so a
//     retried request or an Update without changes changes nothing. An Update revokes the grants
//     its old properties named and its new ones do not, and grants the new ones; grants made
//     outside the stack stay.
//   - Delete leaves the user on the database: the application's data may depend on it (views,
//     routines, triggers and events with the user as DEFINER stop working when it goes, and an
//     application still running would lose its login), and the database itself is kept as a final
//     snapshot when the stack goes. Drop it by hand (DROP USER, and its _clone) when nothing needs it.
//
// No password reaches a log, an error or the answer: errors are scrubbed of every password read
// from the secrets before they leave.
package dbuser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/strongroom/strongroom/pkg/customresource"
	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
	"github.com/strongroom/strongroom/pkg/rotation"
)

// ResourceType is the custom resource's CloudFormation type.
const ResourceType = "Custom::DatabaseUser"

// The resource's properties.
const (
	// PropSuperuserSecretArn is the secret of the user that creates the application user (the RDS
	// master user: CREATE USER, SELECT on mysql, each granted privilege WITH GRANT OPTION).
	PropSuperuserSecretArn = "SuperuserSecretArn"
	// PropUserSecretArn is the application user's secret: its AWSCURRENT username and password.
	PropUserSecretArn = "UserSecretArn"
	// PropGrants lists the grants, as rotation.ParseGrants reads them.
	PropGrants = "Grants"
)

// SecretsManager is the call the function makes; *secretsmanager.Client satisfies it.
type SecretsManager interface {
	GetSecretValue(ctx context.Context, params *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var _ SecretsManager = (*secretsmanager.Client)(nil)

// Provisioner handles the resource's requests.
type Provisioner struct {
	SM SecretsManager
	// TLS protects the superuser's connection (rotation.TLSFromEnv: DB_TLS, DB_CA_BUNDLE).
	TLS dbsecret.TLS
	Log *slog.Logger
}

// Properties are the resource's validated properties.
type Properties struct {
	SuperuserSecretArn, UserSecretArn string
	Grants                            []rotation.Grant
}

// ParseProperties validates a request's properties; its error is a customresource.PropertyErrors
// naming each bad property.
func ParseProperties(props map[string]any) (Properties, error) {
	errs := &customresource.PropertyErrors{ResourceType: ResourceType}
	var p Properties
	for _, f := range []struct {
		name string
		dst  *string
	}{{PropSuperuserSecretArn, &p.SuperuserSecretArn}, {PropUserSecretArn, &p.UserSecretArn}} {
		v, _ := props[f.name].(string)
		if !strings.HasPrefix(v, "arn:") {
			errs.Add(f.name, "must be a Secrets Manager secret ARN (the database stack sets it)")
			continue
		}
		*f.dst = v
	}
	raw, ok := props[PropGrants].([]any)
	specs := make([]string, 0, len(raw))
	for _, v := range raw {
		s, isString := v.(string)
		ok = ok && isString
		specs = append(specs, s)
	}
	switch g, err := rotation.ParseGrants(specs); {
	case !ok:
		errs.Add(PropGrants, "must be a list of strings such as \"SELECT, INSERT ON app.*\"")
	case err != nil:
		errs.Add(PropGrants, "%v", err)
	default:
		p.Grants = g
	}
	return p, errs.Err()
}

// Handle runs one request. It returns the outcome to answer, or an error (a TerminalError or a
// RetryableError) whose message names the fix and holds no password; the relay answers FAILED
// with it.
func (p *Provisioner) Handle(ctx context.Context, ev cfn.Event) (customresource.Outcome, error) {
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("request", string(ev.RequestType), "request_id", ev.RequestID, "logical_id", ev.LogicalResourceID)
	if ev.RequestType == cfn.RequestDelete {
		log.Info("delete: the user is kept on the database (its data may depend on it)")
		return customresource.Outcome{Status: cfn.StatusSuccess}, nil
	}
	if ev.RequestType != cfn.RequestCreate && ev.RequestType != cfn.RequestUpdate {
		return customresource.Outcome{}, lambdaerr.Terminal(fmt.Sprintf("request type %q: want Create, Update or Delete", ev.RequestType), nil)
	}
	props, err := ParseProperties(ev.ResourceProperties)
	if err != nil {
		return customresource.Outcome{}, lambdaerr.Terminal(err.Error(), nil)
	}
	var previous []rotation.Grant
	if ev.RequestType == cfn.RequestUpdate {
		// Old properties that no longer parse name no grant Strongroom can revoke.
		if old, err := ParseProperties(ev.OldResourceProperties); err == nil {
			previous = old.Grants
		}
	}
	var seen []string
	done, err := p.provision(ctx, log, props, previous, &seen)
	if err != nil {
		return customresource.Outcome{}, scrub(err, seen)
	}
	log.Info("user provisioned", "user", done.user, "created", done.Created, "changes", done.Changes)
	out := customresource.Outcome{Status: cfn.StatusSuccess, Data: map[string]any{"Username": done.user}}
	if ev.RequestType == cfn.RequestCreate {
		out.PhysicalResourceID = done.user + "@" + done.endpoint
	}
	return out, nil
}

type provisioned struct {
	*rotation.Provisioned
	user, endpoint string
}

func (p *Provisioner) provision(ctx context.Context, log *slog.Logger, props Properties, previous []rotation.Grant, seen *[]string) (*provisioned, error) {
	admin, err := p.secret(ctx, props.SuperuserSecretArn, PropSuperuserSecretArn, seen)
	if err != nil {
		return nil, err
	}
	user, err := p.secret(ctx, props.UserSecretArn, PropUserSecretArn, seen)
	if err != nil {
		return nil, err
	}
	done, err := rotation.ProvisionUser(ctx, p.TLS, admin, user, props.Grants, previous)
	if dbsecret.IsAccessDenied(err) {
		// A single-user rotation of the superuser secret may be between its setSecret (the database
		// has the AWSPENDING password) and its finishSecret (AWSCURRENT still the old one); the
		// rotation's own clients look there too (pkg/secretclient).
		if pending, perr := p.secretStage(ctx, props.SuperuserSecretArn, PropSuperuserSecretArn, "AWSPENDING", seen); perr == nil && pending.Password != admin.Password {
			log.Info("the superuser's AWSCURRENT password was refused; trying AWSPENDING (a rotation in progress)")
			done, err = rotation.ProvisionUser(ctx, p.TLS, pending, user, props.Grants, previous)
		}
	}
	if dbsecret.IsAccessDenied(err) {
		err = lambdaerr.Terminal(fmt.Sprintf("the database refused the login of %s's user %s with its AWSCURRENT password (and its AWSPENDING one, if a rotation left one): "+
			"the secret must hold the instance's master user and password; if they were changed outside Secrets Manager, set the password again "+
			"(aws rds modify-db-instance --master-user-password) to the secret's, then retry", PropSuperuserSecretArn, admin.Username), err)
	}
	if err != nil {
		return nil, fmt.Errorf("user %s at %s: %w", user.Username, user.Endpoint(), err)
	}
	return &provisioned{Provisioned: done, user: user.Username, endpoint: user.Endpoint()}, nil
}

// secret reads and parses a secret's AWSCURRENT value.
func (p *Provisioner) secret(ctx context.Context, arn, prop string, seen *[]string) (*dbsecret.Secret, error) {
	return p.secretStage(ctx, arn, prop, "AWSCURRENT", seen)
}

// secretStage reads and parses the value a secret's staging label names.
func (p *Provisioner) secretStage(ctx context.Context, arn, prop, stage string, seen *[]string) (*dbsecret.Secret, error) {
	out, err := p.SM.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn), VersionStage: aws.String(stage)})
	if err != nil {
		return nil, fmt.Errorf("read %s %s (%s): %w", prop, arn, stage, err)
	}
	s, err := dbsecret.Parse(aws.ToString(out.SecretString))
	if err != nil {
		return nil, lambdaerr.Terminal(fmt.Sprintf("%s %s", prop, arn), err)
	}
	*seen = append(*seen, s.Password)
	return s, nil
}

// scrub classifies err and removes every password read from its message, as a last guard.
func scrub(err error, passwords []string) error {
	cerr := lambdaerr.Classify(err)
	msg := cerr.Error()
	for _, pw := range passwords {
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, "[REDACTED]")
		}
	}
	var retry *lambdaerr.RetryableError
	if errors.As(cerr, &retry) {
		return lambdaerr.Retryable(msg, nil)
	}
	return lambdaerr.Terminal(msg, nil)
}
