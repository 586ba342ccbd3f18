package secretsmanager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Rotation steps as the service sends them in the event's "Step".
const (
	StepCreateSecret = "createSecret"
	StepSetSecret    = "setSecret"
	StepTestSecret   = "testSecret"
	StepFinishSecret = "finishSecret"
)

// Service events Secrets Manager reports to CloudTrail (and so to EventBridge as "AWS Service Event
// via CloudTrail").
const (
	EventRotationStarted       = "RotationStarted"
	EventRotationSucceeded     = "RotationSucceeded"
	EventRotationFailed        = "RotationFailed"
	EventRotationAbandoned     = "RotationAbandoned"
	EventTestRotationStarted   = "TestRotationStarted"
	EventTestRotationSucceeded = "TestRotationSucceeded"
	EventTestRotationFailed    = "TestRotationFailed"
)

// rotationTimeout bounds one rotation function invocation, as Lambda's 15-minute maximum does.
const rotationTimeout = 15 * time.Minute

// RotationEvent is a rotation service event. ErrorMessage is the CloudTrail errorMessage for a
// failure ("Error when executing lambda <arn> during <step> step"); it never contains the
// function's own message, which may be anything.
type RotationEvent struct {
	Name         string // one of the Event* constants
	SecretARN    string
	Token        string // the ClientRequestToken (VersionId) of the rotation
	Step         string // the failing step, for failures
	ErrorMessage string
	Time         time.Time
}

// How rotation service events reach EventBridge: CloudTrail records them as non-API service
// events, and EventBridge delivers each with this source and detail-type.
const (
	EventSource     = "aws.secretsmanager"
	EventDetailType = "AWS Service Event via CloudTrail"
)

// CloudTrailRecord is the CloudTrail record AWS writes for the event; EventBridge delivers it as
// the event's detail (source EventSource, detail-type EventDetailType). requestParameters and
// responseElements are null for service events; errorMessage is present for failures only.
func (e RotationEvent) CloudTrailRecord(account, region string) map[string]any {
	rec := map[string]any{
		"eventVersion": "1.11",
		"userIdentity": map[string]any{"accountId": account, "invokedBy": "secretsmanager.amazonaws.com"},
		"eventTime":    e.Time.UTC().Format("2006-01-02T15:04:05Z"),
		"eventSource":  "secretsmanager.amazonaws.com", "eventName": e.Name, "awsRegion": region,
		"sourceIPAddress": "secretsmanager.amazonaws.com", "userAgent": "secretsmanager.amazonaws.com",
		"requestParameters": nil, "responseElements": nil,
		"additionalEventData": map[string]any{"SecretId": e.SecretARN},
		"requestID":           "Rotation-" + e.SecretARN + "-" + e.Token,
		"eventID":             core.NewUUID(), "readOnly": false, "eventType": "AwsServiceEvent",
		"managementEvent": true, "recipientAccountId": account, "eventCategory": "Management",
	}
	if e.ErrorMessage != "" {
		rec["errorMessage"] = e.ErrorMessage
	}
	return rec
}

// OnRotationEvent registers f to receive every rotation service event. f runs on its own goroutine,
// never under the service's lock, so it may call the service.
func (s *Service) OnRotationEvent(f func(RotationEvent)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, f)
}

// OnRotationFailed registers f for RotationFailed and TestRotationFailed events, with the secret's
// ARN, the failing step and the CloudTrail error message.
func (s *Service) OnRotationFailed(f func(secretARN, step, msg string)) {
	s.OnRotationEvent(func(e RotationEvent) {
		if e.Name == EventRotationFailed || e.Name == EventTestRotationFailed {
			f(e.SecretARN, e.Step, e.ErrorMessage)
		}
	})
}

// emitLater queues e for the hooks. One dispatcher goroutine delivers queued events in order,
// outside the service's lock, so hooks may call the service. Caller holds s.mu.
func (s *Service) emitLater(e RotationEvent) {
	if len(s.hooks) == 0 {
		return
	}
	s.queue = append(s.queue, e)
	if s.dispatching {
		return
	}
	s.dispatching = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			s.mu.Lock()
			if len(s.queue) == 0 {
				s.dispatching = false
				s.mu.Unlock()
				return
			}
			ev := s.queue[0]
			s.queue = s.queue[1:]
			hooks := slices.Clone(s.hooks)
			s.mu.Unlock()
			for _, h := range hooks {
				h(ev)
			}
		}
	}()
}

type rotateSecretInput struct {
	SecretId           string
	ClientRequestToken *string
	RotationLambdaARN  *string
	RotationRules      *RotationRules
	RotateImmediately  *bool
}

type rotateSecretOutput struct {
	ARN       string
	Name      string
	VersionId string `json:",omitempty"`
}

// rotationEvent is the payload the service sends to the rotation function.
type rotationEvent struct {
	Step               string
	SecretId           string
	ClientRequestToken string
	RotationToken      string
}

// InvokeAuthorizer judges Secrets Manager (secretsmanager.amazonaws.com) invoking the rotation
// function lambdaARN for the secret secretARN; a non-nil error refuses it and invokes nothing.
type InvokeAuthorizer func(ctx context.Context, secretARN, lambdaARN string) error

// SetInvokeAuthorizer makes RotateSecret with a RotationLambdaARN, and each rotation step, pass
// authorize first; nil (the default) allows all. RotateSecret refused by it answers
// AccessDeniedException, as the Secrets Manager User Guide's rotation troubleshooting describes
// (the service checks that the function's policy lets it invoke the function when a rotation
// function is set); a refused step fails that rotation.
func (s *Service) SetInvokeAuthorizer(authorize InvokeAuthorizer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authorize = authorize
}

// msgCannotInvoke is the service's AccessDeniedException message for a rotation function whose
// policy does not let it invoke the function.
const msgCannotInvoke = "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function policy grants access to the principal secretsmanager.amazonaws.com."

// checkInvoke asks the authorizer, if any, whether the service may invoke lambdaARN for the
// secret id names. It is called without s.mu held: the authorizer reads other services' policies.
func (s *Service) checkInvoke(ctx context.Context, id, lambdaARN string) error {
	s.mu.Lock()
	authorize := s.authorize
	var arn string
	if sec, err := s.findLive(id); err == nil {
		arn = sec.arn
	}
	s.mu.Unlock()
	if authorize == nil || arn == "" {
		return nil // an unknown secret is refused by the operation itself
	}
	if err := authorize(ctx, arn, lambdaARN); err != nil {
		return core.Errorf("AccessDeniedException", "%s", msgCannotInvoke)
	}
	return nil
}

func (s *Service) rotateSecret(ctx context.Context, in rotateSecretInput) (any, error) {
	sched, err := parseRules(in.RotationRules)
	if err != nil {
		return nil, err
	}
	tok, err := token(in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	if in.RotationLambdaARN != nil {
		if err := s.checkInvoke(ctx, in.SecretId, *in.RotationLambdaARN); err != nil {
			return nil, err
		}
	}
	return core.Locked(&s.mu, s.findLive, in.SecretId, func(sec *secret) (any, error) {
		lambdaARN := sec.rotationLambda
		if in.RotationLambdaARN != nil {
			lambdaARN = *in.RotationLambdaARN
		}
		if lambdaARN == "" {
			return nil, errInvalidRequest("No Lambda rotation function ARN is associated with this secret: pass RotationLambdaARN.")
		}
		out := rotateSecretOutput{ARN: sec.arn, Name: sec.name}
		cur := sec.holder(StageCurrent)
		if p := sec.holder(StagePending); p != nil {
			switch {
			case p == cur:
				sec.detach(StagePending, p) // a finished rotation's leftover label
			case p.id == tok:
				// A retry of the RotateSecret that created this version: carry on with it.
				if !sec.rotating {
					s.startRotation(sec, p.id, lambdaARN, true)
				}
				out.VersionId = p.id
				return out, nil
			default:
				if !sec.rotating && sec.rotationLambda != "" {
					s.startRotation(sec, p.id, sec.rotationLambda, true)
				}
				return nil, errInvalidRequest("A previous rotation isn't complete. That rotation will be reattempted.")
			}
		}
		if _, exists := sec.versions[tok]; exists {
			// A retry of a RotateSecret whose rotation already finished: answer as the first time.
			out.VersionId = tok
			return out, nil
		}
		// Configuration is saved only once the request is known to be valid.
		sec.rotationLambda = lambdaARN
		sec.rotationEnabled = true
		if in.RotationRules != nil {
			rules := *in.RotationRules
			if sched != nil && sched.daily && rules.AutomaticallyAfterDays == nil {
				rules.AutomaticallyAfterDays = ptr(int64(sched.every / (24 * time.Hour)))
			}
			sec.rules, sec.sched = &rules, sched
		}
		immediately := in.RotateImmediately == nil || *in.RotateImmediately
		v := s.newVersion(sec, tok, nil, nil)
		sec.attach(StagePending, v)
		s.startRotation(sec, tok, lambdaARN, immediately)
		if !immediately {
			sec.scheduleFrom = s.clock.Now()
		}
		out.VersionId = tok
		return out, nil
	})
}

// startRotation runs the rotation function's steps for token on its own goroutine. Caller holds
// s.mu.
func (s *Service) startRotation(sec *secret, tok, lambdaARN string, immediately bool) {
	sec.rotating = true
	started := EventRotationStarted
	if !immediately {
		started = EventTestRotationStarted
	}
	s.emitLater(RotationEvent{Name: started, SecretARN: sec.arn, Token: tok, Time: s.clock.Now()})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runRotation(sec, tok, lambdaARN, immediately)
	}()
}

func (s *Service) runRotation(sec *secret, tok, lambdaARN string, immediately bool) {
	steps := []string{StepCreateSecret, StepSetSecret, StepTestSecret, StepFinishSecret}
	if !immediately {
		steps = []string{StepTestSecret}
	}
	rotationToken := randomString(64, alnum)
	failedStep, cause := "", ""
	for _, step := range steps {
		if err := s.invokeStep(lambdaARN, step, sec.arn, tok, rotationToken); err != nil {
			failedStep, cause = step, err.Error()
			break
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec.rotating = false
	now := s.clock.Now()
	// The next scheduled rotation counts from this one's end, whatever its outcome (a failure is
	// retried at the next window, not at once).
	sec.scheduleFrom = now
	defer s.scheduleNext(sec)
	v := sec.versions[tok]
	if failedStep == "" && immediately && (v == nil || !v.has(StageCurrent)) {
		failedStep, cause = StepFinishSecret, "finishSecret returned without moving AWSCURRENT to version "+tok
	}
	if !immediately {
		// The test rotation's version goes away again, whatever the outcome.
		if v != nil && (len(v.stages) == 0 || (len(v.stages) == 1 && v.has(StagePending))) {
			delete(sec.versions, tok)
			for i, id := range sec.order {
				if id == tok {
					sec.order = append(sec.order[:i], sec.order[i+1:]...)
					break
				}
			}
		}
	}
	if failedStep != "" {
		sec.lastRotationErr = cause
		name := EventRotationFailed
		if !immediately {
			name = EventTestRotationFailed
		}
		s.emitLater(RotationEvent{
			Name: name, SecretARN: sec.arn, Token: tok, Step: failedStep, Time: now,
			ErrorMessage: fmt.Sprintf("Error when executing lambda %s during %s step", lambdaARN, failedStep),
		})
		return
	}
	sec.lastRotationErr = ""
	if !immediately {
		s.emitLater(RotationEvent{Name: EventTestRotationSucceeded, SecretARN: sec.arn, Token: tok, Time: now})
		return
	}
	sec.detach(StagePending, v)
	sec.lastRotated = &now
	s.emitLater(RotationEvent{Name: EventRotationSucceeded, SecretARN: sec.arn, Token: tok, Time: now})
}

// invokeStep invokes the rotation function synchronously for one step. The error it returns is
// the function's errorType and errorMessage (or why it could not be invoked), never a secret: the
// event carries only ids.
func (s *Service) invokeStep(lambdaARN, step, secretARN, tok, rotationToken string) error {
	if s.invoker == nil {
		return errors.New("no Lambda invoker is wired into this sandbox's Secrets Manager")
	}
	s.mu.Lock()
	authorize := s.authorize
	s.mu.Unlock()
	if authorize != nil {
		if err := authorize(s.ctx, secretARN, lambdaARN); err != nil {
			return fmt.Errorf("invoke %s for %s: %w", lambdaARN, step, err)
		}
	}
	payload, err := json.Marshal(rotationEvent{Step: step, SecretId: secretARN, ClientRequestToken: tok, RotationToken: rotationToken})
	if err != nil {
		return fmt.Errorf("encode %s event: %w", step, err)
	}
	ctx, cancel := context.WithTimeout(s.ctx, rotationTimeout)
	defer cancel()
	if _, err := s.invoker.Invoke(ctx, lambdaARN, payload); err != nil {
		return fmt.Errorf("invoke %s for %s: %w", lambdaARN, step, err)
	}
	return nil
}

type cancelRotateOutput struct {
	ARN       string
	Name      string
	VersionId string `json:",omitempty"`
}

// cancelRotateSecret turns automatic rotation off. As documented, it leaves the labels of a
// rotation in progress alone: AWSPENDING may need removing by hand.
func (s *Service) cancelRotateSecret(_ context.Context, in secretIDInput) (any, error) {
	return core.Locked(&s.mu, s.findLive, in.SecretId, func(sec *secret) (any, error) {
		out := cancelRotateOutput{ARN: sec.arn, Name: sec.name}
		if p := sec.holder(StagePending); p != nil && !p.has(StageCurrent) {
			out.VersionId = p.id
		}
		sec.rotationEnabled = false
		s.scheduleNext(sec)
		return out, nil
	})
}

// scheduleNext arms (or disarms) the secret's scheduled rotation. Caller holds s.mu.
func (s *Service) scheduleNext(sec *secret) {
	if sec.timerStop != nil {
		sec.timerStop()
		sec.timerStop = nil
	}
	if !s.scheduled || !sec.rotationEnabled || sec.sched == nil || sec.deleted() || s.ctx.Err() != nil {
		return
	}
	from := sec.scheduleFrom
	if from.IsZero() {
		from = sec.created
	}
	next, ok := sec.sched.next(from)
	if !ok {
		return
	}
	sec.timerStop = s.clock.AfterFunc(max(next.Sub(s.clock.Now()), 0), func() { s.scheduledRotation(sec) })
}

// scheduledRotation starts the rotation a schedule calls for: a new version, or a reattempt of a
// pending one, as the service does.
func (s *Service) scheduledRotation(sec *secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil || s.secrets[sec.arn] != sec || !sec.rotationEnabled || sec.deleted() || sec.rotating {
		return
	}
	sec.timerStop = nil
	if p := sec.holder(StagePending); p != nil && p != sec.holder(StageCurrent) {
		s.startRotation(sec, p.id, sec.rotationLambda, true)
		return
	}
	if p := sec.holder(StagePending); p != nil {
		sec.detach(StagePending, p)
	}
	tok := core.NewUUID()
	sec.attach(StagePending, s.newVersion(sec, tok, nil, nil))
	s.startRotation(sec, tok, sec.rotationLambda, true)
}
