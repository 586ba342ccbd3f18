package database

import (
	"fmt"
	"reflect"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/jsii-runtime-go"
)

// dropSubsumedKeyStatements makes the key's synthesized policy leave out every Allow statement that
// only repeats, for the account principal, what the key's account statement already grants it.
//
// CDK's Secret (awsrds.NewDatabaseSecret with EncryptionKey) adds to the key policy by itself an
// Allow of kms:CreateGrant/Decrypt/DescribeKey/Encrypt/GenerateDataKey*/ReEncrypt* for the account
// root with kms:ViaService secretsmanager.<region>.amazonaws.com. The key's first statement (the
// account root allowed kms:*, which delegates the key's use to IAM policies) already grants that
// principal every kms action without a condition, so the second grants nothing more: the mutation
// proof removed it and nothing failed. An unused grant is kept out of the template.
//
// The override is computed when the template is synthesized, from the key's policy document as it
// is then: a statement something adds later (a grant to another account's role, RDS or rotation
// statements) is kept; only Allows subsumed by the account statement are dropped.
func dropSubsumedKeyStatements(key awskms.Key) {
	key.Node().DefaultChild().(awscdk.CfnResource).AddPropertyOverride(jsii.String("KeyPolicy.Statement"),
		awscdk.Lazy_UncachedAny(&keyStatements{key}, nil))
}

// keyStatements produces the resolved statements of key's policy document without the ones the
// account statement subsumes (withoutSubsumed).
type keyStatements struct{ key awskms.Key }

func (p *keyStatements) Produce(ctx awscdk.IResolveContext) any {
	doc, ok := ctx.Resolve(p.key.Policy(), nil).(map[string]any)
	statements, ok2 := doc["Statement"].([]any)
	if !ok || !ok2 {
		// A shape CDK never resolves a key policy to: fail the synth rather than write no statements.
		panic(fmt.Sprintf("database key policy: resolved to %T with Statement %T, want an object with a list", doc, doc["Statement"]))
	}
	return withoutSubsumed(statements)
}

// withoutSubsumed returns statements (a resolved key policy's) without every other Allow statement
// whose principal is that of the account statement: an Allow of "kms:*" on "*" with no condition.
// Such a statement can only allow that principal actions the account statement already allows it.
// Without an account statement, statements is returned unchanged.
func withoutSubsumed(statements []any) []any {
	account := -1
	for i, s := range statements {
		if st, ok := s.(map[string]any); ok && isAccountStatement(st) {
			account = i
			break
		}
	}
	if account < 0 {
		return statements
	}
	principal := statements[account].(map[string]any)["Principal"]
	out := make([]any, 0, len(statements))
	for i, s := range statements {
		st, ok := s.(map[string]any)
		if i != account && ok && st["Effect"] == "Allow" && st["Resource"] == "*" && reflect.DeepEqual(st["Principal"], principal) &&
			st["NotAction"] == nil && st["NotResource"] == nil && st["NotPrincipal"] == nil {
			continue
		}
		out = append(out, s)
	}
	return out
}

// isAccountStatement reports whether st allows every kms action on the key without a condition, as the
// key policy's account statement does (principal arn:<partition>:iam::<account>:root). The principal
// is not checked: any other Allow for the same principal, whatever it is, grants it nothing more.
func isAccountStatement(st map[string]any) bool {
	if st["Effect"] != "Allow" || st["Resource"] != "*" || st["Condition"] != nil || st["Principal"] == nil {
		return false
	}
	switch a := st["Action"].(type) {
	case string:
		return a == "kms:*"
	case []any:
		for _, x := range a {
			if x == "kms:*" {
				return true
			}
		}
	}
	return false
}
