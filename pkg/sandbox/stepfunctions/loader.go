package stepfunctions

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// TemplateMachine is an AWS::StepFunctions::StateMachine of a synthesized template, with its
// definition resolved to the text CloudFormation would deploy.
type TemplateMachine struct {
	LogicalID string
	// Name is the StateMachineName property, or the logical id when the template leaves it to
	// CloudFormation.
	Name       string
	Definition string
	// RoleArn is the resolved RoleArn property.
	RoleArn string
}

// Resolver supplies what only a deployment knows: the value of {"Ref": logicalID} (attribute
// "") or {"Fn::GetAtt": [logicalID, attribute]}, for example the ARN of a Lambda function the
// sandbox registered for that logical id.
type Resolver func(logicalID, attribute string) (string, error)

var placeholderRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// LoadTemplate reads every state machine of a synthesized template (cdk.out/<Stack>.template.json).
// It understands the forms CDK emits: DefinitionString as a string or an Fn::Join, a Definition
// object, DefinitionS3Location pointing at a cdk.out asset, and DefinitionSubstitutions whose
// values are strings, Refs or Fn::GetAtts.
func LoadTemplate(path string, resolve Resolver) ([]TemplateMachine, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string                     `json:"Type"`
			Properties map[string]json.RawMessage `json:"Properties"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(b, &tpl); err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	ids := make([]string, 0, len(tpl.Resources))
	for id := range tpl.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []TemplateMachine
	for _, id := range ids {
		r := tpl.Resources[id]
		if r.Type != "AWS::StepFunctions::StateMachine" {
			continue
		}
		m := TemplateMachine{LogicalID: id, Name: id}
		p := r.Properties
		if v, ok := p["StateMachineName"]; ok {
			if m.Name, err = resolveValue(v, resolve); err != nil {
				return nil, fmt.Errorf("%s StateMachineName: %w", id, err)
			}
		}
		if v, ok := p["RoleArn"]; ok {
			if m.RoleArn, err = resolveValue(v, resolve); err != nil {
				return nil, fmt.Errorf("%s RoleArn: %w", id, err)
			}
		}
		switch {
		case p["DefinitionString"] != nil:
			m.Definition, err = resolveValue(p["DefinitionString"], resolve)
		case p["Definition"] != nil:
			m.Definition = string(p["Definition"])
		case p["DefinitionS3Location"] != nil:
			m.Definition, err = readAsset(filepath.Dir(path), p["DefinitionS3Location"])
		default:
			err = fmt.Errorf("no DefinitionString, Definition or DefinitionS3Location")
		}
		if err != nil {
			return nil, fmt.Errorf("%s definition: %w", id, err)
		}
		subs := map[string]string{}
		if v, ok := p["DefinitionSubstitutions"]; ok {
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(v, &raw); err != nil {
				return nil, fmt.Errorf("%s DefinitionSubstitutions: %w", id, err)
			}
			for k, rv := range raw {
				if subs[k], err = resolveValue(rv, resolve); err != nil {
					return nil, fmt.Errorf("%s DefinitionSubstitutions %s: %w", id, k, err)
				}
			}
		}
		if m.Definition, err = Substitute(m.Definition, subs); err != nil {
			return nil, fmt.Errorf("%s: %w", id, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// resolveValue turns a template value (a string, Ref, Fn::GetAtt, Fn::Join or Fn::Sub with only
// pseudo-parameter-free text) into its deployed string.
func resolveValue(raw json.RawMessage, resolve Resolver) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var fn map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fn); err != nil || len(fn) != 1 {
		return "", fmt.Errorf("unsupported value %s", raw)
	}
	for name, arg := range fn {
		switch name {
		case "Ref":
			var id string
			if err := json.Unmarshal(arg, &id); err != nil {
				return "", fmt.Errorf("bad Ref %s", arg)
			}
			return callResolver(resolve, id, "")
		case "Fn::GetAtt":
			var parts []string
			if err := json.Unmarshal(arg, &parts); err != nil || len(parts) != 2 {
				return "", fmt.Errorf("bad Fn::GetAtt %s", arg)
			}
			return callResolver(resolve, parts[0], parts[1])
		case "Fn::Join":
			var j []json.RawMessage
			if err := json.Unmarshal(arg, &j); err != nil || len(j) != 2 {
				return "", fmt.Errorf("bad Fn::Join %s", arg)
			}
			var sep string
			var parts []json.RawMessage
			if json.Unmarshal(j[0], &sep) != nil || json.Unmarshal(j[1], &parts) != nil {
				return "", fmt.Errorf("bad Fn::Join %s", arg)
			}
			strs := make([]string, len(parts))
			for i, part := range parts {
				v, err := resolveValue(part, resolve)
				if err != nil {
					return "", err
				}
				strs[i] = v
			}
			return strings.Join(strs, sep), nil
		}
		return "", fmt.Errorf("intrinsic %s is not supported here", name)
	}
	return "", nil
}

func callResolver(resolve Resolver, id, attr string) (string, error) {
	if resolve == nil {
		return "", fmt.Errorf("%s.%s needs a resolver", id, attr)
	}
	v, err := resolve(id, attr)
	if err != nil {
		return "", fmt.Errorf("resolve %s %s: %w", id, attr, err)
	}
	return v, nil
}

// readAsset reads a definition CDK uploaded as an asset: the S3 key names cdk.out/asset.<key>.
func readAsset(dir string, raw json.RawMessage) (string, error) {
	var loc struct {
		Key json.RawMessage `json:"Key"`
	}
	if err := json.Unmarshal(raw, &loc); err != nil {
		return "", fmt.Errorf("bad DefinitionS3Location %s", raw)
	}
	var key string
	if err := json.Unmarshal(loc.Key, &key); err != nil {
		return "", fmt.Errorf("DefinitionS3Location Key must be a literal, got %s", loc.Key)
	}
	b, err := os.ReadFile(filepath.Join(dir, "asset."+key))
	if err != nil {
		return "", fmt.Errorf("read asset for %s: %w", key, err)
	}
	return string(b), nil
}

// Substitute replaces every ${Name} with subs[Name], failing on the first placeholder without a
// substitution (a deployed definition never keeps one).
func Substitute(definition string, subs map[string]string) (string, error) {
	var missing []string
	out := placeholderRE.ReplaceAllStringFunc(definition, func(m string) string {
		name := m[2 : len(m)-1]
		v, ok := subs[name]
		if !ok {
			missing = append(missing, name)
			return m
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no substitution for ${%s}", strings.Join(missing, "}, ${"))
	}
	return out, nil
}

// LoadFile reads a definition from statemachines/ and applies the substitutions a test supplies.
func LoadFile(path string, subs map[string]string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read state machine: %w", err)
	}
	def, err := Substitute(string(b), subs)
	if err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return def, nil
}
