package rotation

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Password length limits. GetRandomPassword accepts 1-4096; shorter than 16 is refused as weak,
// and MariaDB and its clients handle 128 characters without surprises.
const (
	DefaultPasswordLength = 32
	MinPasswordLength     = 16
	MaxPasswordLength     = 128
)

// DefaultExcludeCharacters is every printable ASCII punctuation character except - _ . : what is
// left (letters, digits and three marks) needs no quoting or escaping in SQL, in a URL or DSN, in
// a shell (no ~ expansion either), in JSON or in a MariaDB option file. The AWS templates exclude
// only / @ " ' \.
const DefaultExcludeCharacters = "!\"#$%&'()*+,/:;<=>?@[\\]^`{|}~"

// checkExclusions refuses exclusion lists GetRandomPassword would refuse or that leave nothing.
func checkExclusions(exclude string) error {
	if len(exclude) > 4096 {
		return fmt.Errorf("exclude characters: at most 4096 characters (GetRandomPassword's limit), got %d", len(exclude))
	}
	if !utf8.ValidString(exclude) {
		return fmt.Errorf("exclude characters: not valid UTF-8")
	}
	left := 0
	for c := byte('!'); c <= '~'; c++ {
		if !strings.ContainsRune(exclude, rune(c)) {
			left++
		}
	}
	if left < 10 {
		return fmt.Errorf("exclude characters: only %d printable characters are left to make passwords from; exclude fewer", left)
	}
	return nil
}

// newPassword asks Secrets Manager for a password and checks it honours the exclusions, so a
// password that would need quoting never reaches the database.
func (rt *Rotator) newPassword(ctx context.Context, r *run) (string, error) {
	out, err := rt.sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
		PasswordLength:          aws.Int64(int64(rt.cfg.PasswordLength)),
		ExcludeCharacters:       aws.String(rt.exclude),
		RequireEachIncludedType: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	pw := aws.ToString(out.RandomPassword)
	r.saw(pw)
	if n := utf8.RuneCountInString(pw); n != rt.cfg.PasswordLength {
		return "", fmt.Errorf("generate password: GetRandomPassword returned %d characters, want %d", n, rt.cfg.PasswordLength)
	}
	if i := strings.IndexAny(pw, rt.exclude); i >= 0 {
		return "", fmt.Errorf("generate password: GetRandomPassword returned an excluded character at position %d", i)
	}
	if i := strings.IndexFunc(pw, func(c rune) bool { return c < '!' || c > '~' }); i >= 0 {
		return "", fmt.Errorf("generate password: GetRandomPassword returned a space or non-printable character at position %d", i)
	}
	return pw, nil
}
