package database

import (
	"reflect"
	"testing"
)

func TestWithoutSubsumed(t *testing.T) {
	root := map[string]any{"AWS": "arn:aws:iam::111122223333:root"}
	account := map[string]any{"Effect": "Allow", "Principal": root, "Action": "kms:*", "Resource": "*"}
	viaSecretsManager := map[string]any{
		"Effect": "Allow", "Principal": root, "Action": []any{"kms:Decrypt", "kms:Encrypt"}, "Resource": "*",
		"Condition": map[string]any{"StringEquals": map[string]any{"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}},
	}
	deny := map[string]any{"Effect": "Deny", "Principal": root, "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}
	otherPrincipal := map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::444455556666:root"}, "Action": "kms:Decrypt", "Resource": "*"}
	service := map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "rds.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*"}
	notAction := map[string]any{"Effect": "Allow", "Principal": root, "NotAction": "kms:Decrypt", "Resource": "*"}
	conditionalAll := map[string]any{"Effect": "Allow", "Principal": root, "Action": "kms:*", "Resource": "*",
		"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "true"}}}
	for _, c := range []struct {
		name     string
		in, want []any
	}{
		{"the Secret's statement beside the account statement", []any{account, viaSecretsManager}, []any{account}},
		{"every Allow of the account principal, before or after", []any{viaSecretsManager, account, conditionalAll}, []any{account}},
		{"other principals, Denies and NotAction kept", []any{account, deny, otherPrincipal, service, notAction, viaSecretsManager},
			[]any{account, deny, otherPrincipal, service, notAction}},
		{"no account statement: unchanged", []any{viaSecretsManager, otherPrincipal}, []any{viaSecretsManager, otherPrincipal}},
		{"a conditional kms:* is no account statement", []any{conditionalAll, viaSecretsManager}, []any{conditionalAll, viaSecretsManager}},
		{"empty", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := withoutSubsumed(c.in)
			if len(got) == 0 && len(c.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("withoutSubsumed(%v)\n= %v\nwant %v", c.in, got, c.want)
			}
		})
	}
}
