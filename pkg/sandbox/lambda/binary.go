package lambda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
	"github.com/strongroom/strongroom/pkg/sandbox/lambdaruntime"
)

// RegisterBinary registers a real bootstrap executable (built for this host, see
// lambdaruntime.BuildHost). Each concurrent invocation gets its own execution environment, as on
// Lambda; environments are kept warm between invocations and replaced when one dies. The process
// environment is the service's BaseEnv (endpoint, region, static credentials) plus WithEnv's.
// Its stdout and stderr go to logs (nil discards them).
func (s *Service) RegisterBinary(name, path string, logs io.Writer, opts ...FunctionOption) (string, error) {
	b := &binary{path: path, logs: logs, svc: s}
	f := &function{runner: b}
	arn, err := s.register(name, f, opts)
	if err != nil {
		return "", err
	}
	b.fn = f
	return arn, nil
}

type binary struct {
	svc  *Service
	fn   *function
	path string
	logs io.Writer

	mu     sync.Mutex
	idle   []*lambdaruntime.Process
	all    []*lambdaruntime.Process
	envs   map[*lambdaruntime.Process]*envLog
	closed bool
}

func (b *binary) config() lambdaruntime.Config {
	env := map[string]string{}
	if b.svc.baseEnv != nil {
		for k, v := range b.svc.baseEnv(b.fn.name) {
			env[k] = v
		}
	}
	for k, v := range b.fn.env {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	list := make([]string, 0, len(keys))
	for _, k := range keys {
		list = append(list, k+"="+env[k])
	}
	timeout := b.fn.timeout
	if timeout == 0 {
		timeout = DefaultBinaryTimeout
	}
	return lambdaruntime.Config{
		Path: b.path, FunctionName: b.fn.name, FunctionARN: b.fn.arn, Region: b.svc.region,
		Account: b.svc.account, Timeout: timeout, Env: list, Stdout: b.logs, Stderr: b.logs,
	}
}

// take returns a warm environment or starts a new one.
func (b *binary) take(ctx context.Context) (*lambdaruntime.Process, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, lambdaruntime.ErrClosed
	}
	for len(b.idle) > 0 {
		p := b.idle[len(b.idle)-1]
		b.idle = b.idle[:len(b.idle)-1]
		if !p.Exited() {
			b.mu.Unlock()
			return p, nil
		}
	}
	b.mu.Unlock()
	// Each environment's output also goes to its own log stream (deliver).
	env := newEnvLog(b.svc.clock)
	cfg := b.config()
	cfg.Stdout, cfg.Stderr = env, env
	if b.logs != nil {
		cfg.Stdout = io.MultiWriter(b.logs, env)
		cfg.Stderr = cfg.Stdout
	}
	p, err := lambdaruntime.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.all = append(b.all, p)
	if b.envs == nil {
		b.envs = map[*lambdaruntime.Process]*envLog{}
	}
	b.envs[p] = env
	b.mu.Unlock()
	return p, nil
}

func (b *binary) put(p *lambdaruntime.Process) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.Exited() || b.closed {
		return
	}
	b.idle = append(b.idle, p)
}

func (b *binary) run(ctx context.Context, _ string, payload []byte) ([]byte, *core.FunctionError, error) {
	if h, ok := b.svc.clock.(interface{ Hold() (release func()) }); ok && b.fn.holdClock {
		defer h.Hold()()
	}
	// An environment that died after its last invocation is noticed only by the next one; that
	// invocation then runs in a fresh environment, as it would on Lambda.
	for range 2 {
		p, err := b.take(ctx)
		if err != nil {
			return nil, nil, err
		}
		b.mu.Lock()
		env := b.envs[p]
		b.mu.Unlock()
		mark, start := 0, b.svc.clock.Now()
		if env != nil {
			mark = env.mark()
		}
		res, err := p.Invoke(ctx, payload)
		if env != nil {
			if res.RequestID != "" {
				r := invocationReport{requestID: res.RequestID, start: start, end: b.svc.clock.Now(), duration: res.Duration, status: "success"}
				switch {
				case res.FunctionError != nil && res.FunctionError.Type == lambdaruntime.ErrorTypeTimeout:
					r.status = "timeout"
				case err != nil || res.FunctionError != nil:
					r.status = "error"
				}
				first, last := platformLines(b.fn.logFormat, r)
				env.addPlatform(mark, first, last)
			}
			b.svc.deliver(ctx, b.fn, env)
		}
		if errors.Is(err, lambdaruntime.ErrExited) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		b.put(p)
		return res.Payload, res.FunctionError, nil
	}
	return nil, nil, fmt.Errorf("run %s: the execution environment exited twice before an invocation", b.path)
}

func (b *binary) close() error {
	b.mu.Lock()
	b.closed = true
	all := b.all
	b.all, b.idle = nil, nil
	b.mu.Unlock()
	var errs []error
	for _, p := range all {
		if err := p.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DefaultBinaryTimeout is used when a bootstrap executable is registered without WithTimeout:
// Lambda's own default of 3 s is too short for a function that drives a scaled sandbox workflow.
const DefaultBinaryTimeout = 60 * time.Second
