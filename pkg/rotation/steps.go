package rotation

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/strongroom/strongroom/pkg/dbsecret"
	"github.com/strongroom/strongroom/pkg/lambdaerr"
)

// errNoValue reports a version or label that has no value (yet): AWSPENDING before createSecret,
// AWSPREVIOUS before the first rotation.
var errNoValue = errors.New("no secret value")

// getSecret reads and parses one version of a secret: by label, and by version id when given.
func (rt *Rotator) getSecret(ctx context.Context, r *run, id, stage, version string) (*dbsecret.Secret, error) {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(id), VersionStage: aws.String(stage)}
	what := fmt.Sprintf("%s of secret %s", stage, id)
	if version != "" {
		in.VersionId = aws.String(version)
		what = fmt.Sprintf("%s version %s of secret %s", stage, version, id)
	}
	out, err := rt.sm.GetSecretValue(ctx, in)
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("read %s: %w", what, errNoValue)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if out.SecretString == nil || *out.SecretString == "" {
		// The service attaches AWSPENDING to an empty version before createSecret fills it in.
		return nil, fmt.Errorf("read %s: %w", what, errNoValue)
	}
	s, err := dbsecret.Parse(*out.SecretString)
	if err != nil {
		return nil, lambdaerr.Terminal(fmt.Sprintf("read %s", what), err)
	}
	r.saw(s.Password)
	return s, nil
}

// strategy decides how this secret rotates.
func (rt *Rotator) strategy(s *dbsecret.Secret) (Strategy, error) {
	switch rt.cfg.Strategy {
	case StrategySingleUser:
		return StrategySingleUser, nil
	case StrategyAlternating:
		if s.MasterARN == "" {
			return "", lambdaerr.Terminal("alternating users need the superuser's secret", &dbsecret.FieldError{
				Field: "masterarn", Problem: "missing; set it to the ARN of the superuser secret that may create users and grant privileges"})
		}
		return StrategyAlternating, nil
	}
	if s.MasterARN != "" {
		return StrategyAlternating, nil
	}
	return StrategySingleUser, nil
}

// createSecret stores a new password (and, alternating, the other user name) as AWSPENDING under
// the token, unless that version already has a value.
func (rt *Rotator) createSecret(ctx context.Context, r *run) error {
	ev := r.ev
	cur, err := rt.getSecret(ctx, r, ev.SecretID, StageCurrent, "")
	if err != nil {
		return fmt.Errorf("createSecret: %w", err)
	}
	strategy, err := rt.strategy(cur)
	if err != nil {
		return fmt.Errorf("createSecret: secret %s: %w", ev.SecretID, err)
	}
	if err := checkUsername(cur.Username); err != nil {
		return fmt.Errorf("createSecret: secret %s: %w", ev.SecretID, err)
	}
	_, err = rt.getSecret(ctx, r, ev.SecretID, StagePending, ev.ClientRequestToken)
	if err == nil {
		r.log.Info("AWSPENDING already has a value; nothing to do", "strategy", string(strategy))
		return nil
	}
	if !errors.Is(err, errNoValue) {
		return fmt.Errorf("createSecret: %w", err)
	}
	pending := cur.Clone()
	if strategy == StrategyAlternating {
		pending.Username = alternate(cur.Username)
		if err := checkUsername(pending.Username); err != nil {
			return fmt.Errorf("createSecret: alternate user of %s: %w", cur.Username, err)
		}
	}
	pending.Password, err = rt.newPassword(ctx, r)
	if err != nil {
		return fmt.Errorf("createSecret: %w", err)
	}
	body, err := pending.JSON()
	if err != nil {
		return fmt.Errorf("createSecret: %w", err)
	}
	_, err = rt.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(ev.SecretID),
		ClientRequestToken: aws.String(ev.ClientRequestToken),
		SecretString:       aws.String(body),
		VersionStages:      []string{StagePending},
	})
	if err != nil {
		return fmt.Errorf("createSecret: store AWSPENDING version %s of secret %s: %w", ev.ClientRequestToken, ev.SecretID, err)
	}
	r.log.Info("stored new credentials as AWSPENDING", "strategy", string(strategy), "username", pending.Username)
	return nil
}

// setSecret makes the database accept the AWSPENDING credentials.
func (rt *Rotator) setSecret(ctx context.Context, r *run) error {
	ev := r.ev
	cur, err := rt.getSecret(ctx, r, ev.SecretID, StageCurrent, "")
	if err != nil {
		return fmt.Errorf("setSecret: %w", err)
	}
	pending, err := rt.getSecret(ctx, r, ev.SecretID, StagePending, ev.ClientRequestToken)
	if err != nil {
		return fmt.Errorf("setSecret: %w (createSecret stores it first)", err)
	}
	strategy, err := rt.strategy(cur)
	if err != nil {
		return fmt.Errorf("setSecret: secret %s: %w", ev.SecretID, err)
	}
	// Already done? The pending credentials log in.
	switch err := rt.login(ctx, pending); {
	case err == nil:
		r.log.Info("AWSPENDING credentials already log in; nothing to do", "strategy", string(strategy), "username", pending.Username)
		return nil
	case !refused(err):
		return fmt.Errorf("setSecret: log in as %s (AWSPENDING) at %s: %w", pending.Username, pending.Endpoint(), classifyDB(err))
	}
	if pending.Host != cur.Host || pending.Port != cur.Port {
		return lambdaerr.Terminal(fmt.Sprintf("setSecret: AWSPENDING points at %s but AWSCURRENT at %s; a rotation cannot move the database", pending.Endpoint(), cur.Endpoint()), nil)
	}
	if strategy == StrategyAlternating {
		return rt.setAlternating(ctx, r, cur, pending)
	}
	return rt.setSingle(ctx, r, cur, pending)
}

func (rt *Rotator) setSingle(ctx context.Context, r *run, cur, pending *dbsecret.Secret) error {
	ev := r.ev
	if pending.Username != cur.Username {
		return lambdaerr.Terminal(fmt.Sprintf("setSecret: AWSPENDING user %s is not the AWSCURRENT user %s; single-user rotation changes only its own password", pending.Username, cur.Username), nil)
	}
	// Log in with the current password; after a failed rotation the database may still have the
	// previous one.
	login := cur
	err := rt.login(ctx, cur)
	if dbsecret.IsAccessDenied(err) {
		prev, perr := rt.getSecret(ctx, r, ev.SecretID, StagePrevious, "")
		switch {
		case errors.Is(perr, errNoValue):
		case perr != nil:
			return fmt.Errorf("setSecret: %w", perr)
		case prev.Username == cur.Username && prev.Host == cur.Host && prev.Port == cur.Port:
			prev.DBName = cur.DBName
			if perr := rt.login(ctx, prev); perr == nil {
				login, err = prev, nil
			}
		}
	}
	if dbsecret.IsAccessDenied(err) {
		// An abandoned rotation (its AWSPENDING label removed by hand after setSecret had run)
		// leaves the database with a password that only an unlabelled version still holds.
		if found, ferr := rt.unlabelled(ctx, r, cur); ferr != nil {
			return fmt.Errorf("setSecret: %w", ferr)
		} else if found != nil {
			login, err = found, nil
		}
	}
	if dbsecret.IsAccessDenied(err) {
		return lambdaerr.Terminal(fmt.Sprintf("setSecret: user %s cannot log in to %s with the AWSPENDING, AWSCURRENT, AWSPREVIOUS or a recent unlabelled password of secret %s; "+
			"the password was changed outside rotation: put the working password in AWSCURRENT (PutSecretValue) and rotate again",
			cur.Username, cur.Endpoint(), ev.SecretID), nil)
	}
	if err != nil {
		return fmt.Errorf("setSecret: log in as %s at %s: %w", cur.Username, cur.Endpoint(), classifyDB(err))
	}
	if err := rt.setOwnPassword(ctx, login, pending.Password); err != nil {
		return fmt.Errorf("setSecret: change the password of %s at %s: %w", cur.Username, cur.Endpoint(), classifyDB(err))
	}
	r.log.Info("database password changed to AWSPENDING", "strategy", string(StrategySingleUser), "username", cur.Username)
	return nil
}

func (rt *Rotator) setAlternating(ctx context.Context, r *run, cur, pending *dbsecret.Secret) error {
	if want := alternate(cur.Username); pending.Username != want {
		return lambdaerr.Terminal(fmt.Sprintf("setSecret: AWSPENDING user %s is not %s, the alternate of AWSCURRENT user %s", pending.Username, want, cur.Username), nil)
	}
	master, err := rt.getSecret(ctx, r, cur.MasterARN, StageCurrent, "")
	if err != nil {
		return fmt.Errorf("setSecret: superuser secret from masterarn: %w", err)
	}
	if master.Host != cur.Host || master.Port != cur.Port {
		return lambdaerr.Terminal(fmt.Sprintf("setSecret: the superuser secret %s points at %s but the user secret at %s; masterarn must name the same database's superuser",
			cur.MasterARN, master.Endpoint(), cur.Endpoint()), nil)
	}
	if master.Username == pending.Username || master.Username == cur.Username {
		return lambdaerr.Terminal(fmt.Sprintf("setSecret: the superuser %s cannot be the rotated user; masterarn must name a different user", master.Username), nil)
	}
	props, err := rt.cloneUser(ctx, master, cur.Username, pending.Username, pending.Password)
	if err != nil {
		return fmt.Errorf("setSecret: as superuser %s from masterarn %s: %w", master.Username, cur.MasterARN, classifyDB(err))
	}
	r.log.Info("alternate user has the AWSPENDING password and exactly the current user's grants and TLS requirement", "strategy", string(StrategyAlternating),
		"username", pending.Username, "from", cur.Username)
	if props.requiresClientCert() {
		r.log.Warn("the users require a client certificate (REQUIRE X509, ISSUER or SUBJECT), which this function does not present: testSecret will be refused",
			"username", pending.Username)
	}
	return nil
}

// testSecret logs in with the AWSPENDING credentials to their database.
func (rt *Rotator) testSecret(ctx context.Context, r *run) error {
	ev := r.ev
	pending, err := rt.getSecret(ctx, r, ev.SecretID, StagePending, ev.ClientRequestToken)
	if errors.Is(err, errNoValue) {
		// RotateSecret with RotateImmediately=false runs only testSecret, on an AWSPENDING version
		// that createSecret never filled: test what that call is for, that this function can
		// reach and log in to the database with the secret as it is.
		cur, cerr := rt.getSecret(ctx, r, ev.SecretID, StageCurrent, "")
		if cerr != nil {
			return fmt.Errorf("testSecret: %w", cerr)
		}
		if err := rt.check(ctx, cur); err != nil {
			return fmt.Errorf("testSecret: AWSPENDING is empty (a test of the rotation configuration); log in as %s (AWSCURRENT) at %s: %w",
				cur.Username, cur.Endpoint(), classifyDB(err))
		}
		r.log.Info("AWSPENDING is empty (RotateImmediately=false): AWSCURRENT credentials log in", "username", cur.Username)
		return nil
	}
	if err != nil {
		return fmt.Errorf("testSecret: %w", err)
	}
	if err := rt.check(ctx, pending); err != nil {
		return fmt.Errorf("testSecret: log in as %s (AWSPENDING) at %s: %w", pending.Username, pending.Endpoint(), classifyDB(err))
	}
	r.log.Info("AWSPENDING credentials log in", "username", pending.Username)
	return nil
}

// finishSecret moves AWSCURRENT to the token's version; Secrets Manager moves AWSPREVIOUS.
func (rt *Rotator) finishSecret(ctx context.Context, r *run) error {
	ev := r.ev
	current := ""
	for id, stages := range r.desc.VersionIdsToStages {
		for _, s := range stages {
			if s == StageCurrent {
				current = id
			}
		}
	}
	in := &secretsmanager.UpdateSecretVersionStageInput{
		SecretId:        aws.String(ev.SecretID),
		VersionStage:    aws.String(StageCurrent),
		MoveToVersionId: aws.String(ev.ClientRequestToken),
	}
	if current != "" {
		in.RemoveFromVersionId = aws.String(current)
	}
	if _, err := rt.sm.UpdateSecretVersionStage(ctx, in); err != nil {
		return fmt.Errorf("finishSecret: move AWSCURRENT of secret %s from version %s to %s: %w", ev.SecretID, current, ev.ClientRequestToken, err)
	}
	r.log.Info("AWSCURRENT moved to the new version", "previous_version", current)
	return nil
}

// maxUnlabelled bounds how many recent unlabelled versions setSecret tries.
const maxUnlabelled = 3

// unlabelled returns credentials from one of the most recent versions without staging labels that
// log in as cur's user, or nil when none does.
func (rt *Rotator) unlabelled(ctx context.Context, r *run, cur *dbsecret.Secret) (*dbsecret.Secret, error) {
	out, err := rt.sm.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{
		SecretId: aws.String(r.ev.SecretID), IncludeDeprecated: aws.Bool(true), MaxResults: aws.Int32(100)})
	if err != nil {
		return nil, fmt.Errorf("list versions of secret %s: %w", r.ev.SecretID, err)
	}
	var cands []types.SecretVersionsListEntry
	for _, v := range out.Versions {
		if len(v.VersionStages) == 0 && v.VersionId != nil && *v.VersionId != r.ev.ClientRequestToken {
			cands = append(cands, v)
		}
	}
	slices.SortFunc(cands, func(a, b types.SecretVersionsListEntry) int {
		return aws.ToTime(b.CreatedDate).Compare(aws.ToTime(a.CreatedDate))
	})
	for i, v := range cands {
		if i == maxUnlabelled {
			break
		}
		got, err := rt.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(r.ev.SecretID), VersionId: v.VersionId})
		if err != nil || got.SecretString == nil {
			continue
		}
		s, err := dbsecret.Parse(*got.SecretString)
		if err != nil {
			continue
		}
		r.saw(s.Password)
		if s.Username != cur.Username || s.Host != cur.Host || s.Port != cur.Port {
			continue
		}
		s.DBName = cur.DBName
		if rt.login(ctx, s) == nil {
			r.log.Info("logged in with an unlabelled version's password (an abandoned rotation)", "version", aws.ToString(v.VersionId), "username", s.Username)
			return s, nil
		}
	}
	return nil, nil
}
