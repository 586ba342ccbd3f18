package secretsmanager

import (
	"context"
	"crypto/rand"
	"math/big"
	"strings"
)

// Character classes of GetRandomPassword. Punctuation is the documented set:
// ! " # $ % & ' ( ) * + , - . / : ; < = > ? @ [ \ ] ^ _ ` { | } ~
const (
	lowerChars = "abcdefghijklmnopqrstuvwxyz"
	upperChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitChars = "0123456789"
	punctChars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

type randomPasswordInput struct {
	PasswordLength          *int64
	ExcludeCharacters       *string
	ExcludeNumbers          *bool
	ExcludePunctuation      *bool
	ExcludeUppercase        *bool
	ExcludeLowercase        *bool
	IncludeSpace            *bool
	RequireEachIncludedType *bool
}

type randomPasswordOutput struct {
	RandomPassword string
}

func isTrue(b *bool) bool { return b != nil && *b }

// randIntn returns a uniform random int in [0,n) from crypto/rand.
func randIntn(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return int(v.Int64())
}

// randomPassword generates a password as GetRandomPassword does (see the operation's parameters).
func randomPassword(in randomPasswordInput) (string, error) {
	length := int64(32)
	if in.PasswordLength != nil {
		length = *in.PasswordLength
	}
	if length < 1 || length > 4096 {
		return "", errInvalidParam("PasswordLength must be between 1 and 4096; got %d.", length)
	}
	exclude := ""
	if in.ExcludeCharacters != nil {
		exclude = *in.ExcludeCharacters
		if len(exclude) > 4096 {
			return "", errInvalidParam("ExcludeCharacters can list at most 4096 characters.")
		}
	}
	keep := func(set string) string {
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune(exclude, r) {
				return -1
			}
			return r
		}, set)
	}
	// Classes that RequireEachIncludedType applies to; a space is never required.
	var classes []string
	for _, c := range []struct {
		chars    string
		excluded bool
	}{
		{lowerChars, isTrue(in.ExcludeLowercase)},
		{upperChars, isTrue(in.ExcludeUppercase)},
		{digitChars, isTrue(in.ExcludeNumbers)},
		{punctChars, isTrue(in.ExcludePunctuation)},
	} {
		if c.excluded {
			continue
		}
		if k := keep(c.chars); k != "" {
			classes = append(classes, k)
		}
	}
	all := strings.Join(classes, "")
	if isTrue(in.IncludeSpace) && !strings.Contains(exclude, " ") {
		all += " "
	}
	if all == "" {
		return "", errInvalidParam("The password can't be generated: every character type is excluded. Include at least one of lowercase, uppercase, numbers or punctuation.")
	}
	require := in.RequireEachIncludedType == nil || *in.RequireEachIncludedType
	out := make([]byte, 0, length)
	if require {
		if int64(len(classes)) > length {
			return "", errInvalidParam("PasswordLength %d is too short to include each of the %d included character types; use a longer password or set RequireEachIncludedType to false.", length, len(classes))
		}
		for _, c := range classes {
			out = append(out, c[randIntn(len(c))])
		}
	}
	for int64(len(out)) < length {
		out = append(out, all[randIntn(len(all))])
	}
	// Fisher-Yates, so the required characters are not always first.
	for i := len(out) - 1; i > 0; i-- {
		j := randIntn(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return string(out), nil
}

func (s *Service) getRandomPassword(_ context.Context, in randomPasswordInput) (any, error) {
	pw, err := randomPassword(in)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.remember(pw)
	s.mu.Unlock()
	return randomPasswordOutput{RandomPassword: pw}, nil
}
