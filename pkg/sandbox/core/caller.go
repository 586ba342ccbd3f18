package core

import "context"

type callerKey struct{}

// WithCaller returns ctx carrying principal, the principal whose sandbox-issued credentials signed
// the request ctx belongs to (the sandbox server sets it for each call, so a service that must
// judge its caller itself, as KMS's key policy lockout check does, can name it).
func WithCaller(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, callerKey{}, principal)
}

// Caller returns the principal WithCaller put in ctx, "" for a call signed with any other key
// (the account's operator: a test's, the CLI's or a deploy's static key).
func Caller(ctx context.Context) string {
	p, _ := ctx.Value(callerKey{}).(string)
	return p
}
