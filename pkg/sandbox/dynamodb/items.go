package dynamodb

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// DynamoDB's size limits: an item, a partition key value and a sort key value.
const (
	maxItemBytes  = 400 * 1024
	maxHashBytes  = 2048
	maxRangeBytes = 1024
)

// exprParams are the expression members every item operation but GetItem shares.
type exprParams struct {
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]json.RawMessage
	ReturnConsumedCapacity    string
}

var (
	nameKeyRE  = regexp.MustCompile(`^#[A-Za-z0-9_]+$`)
	valueKeyRE = regexp.MustCompile(`^:[A-Za-z0-9_]+$`)
)

// env checks the expression attribute maps against the request's expressions (given: each
// expression member with whether it is set, in the order AWS's messages name them).
func (p exprParams) env(given []string, set map[string]bool) (*exprEnv, *core.Error) {
	if p.ReturnConsumedCapacity != "" && p.ReturnConsumedCapacity != "NONE" {
		return nil, validation("the sandbox's DynamoDB does not report consumed capacity: ReturnConsumedCapacity must be NONE")
	}
	var absent []string
	for _, g := range given {
		if !set[g] {
			absent = append(absent, g)
		}
	}
	none := len(absent) == len(given)
	switch {
	case p.ExpressionAttributeNames != nil && len(p.ExpressionAttributeNames) == 0:
		return nil, validation("ExpressionAttributeNames must not be empty")
	case p.ExpressionAttributeValues != nil && len(p.ExpressionAttributeValues) == 0:
		return nil, validation("ExpressionAttributeValues must not be empty")
	case p.ExpressionAttributeNames != nil && none:
		return nil, validation("ExpressionAttributeNames can only be specified when using expressions")
	case p.ExpressionAttributeValues != nil && none:
		return nil, validation("ExpressionAttributeValues can only be specified when using expressions: %s is null", strings.Join(absent, " and "))
	}
	env := &exprEnv{names: p.ExpressionAttributeNames, values: map[string]value{}, usedNames: map[string]bool{}, usedVals: map[string]bool{}}
	for k, n := range p.ExpressionAttributeNames {
		if !nameKeyRE.MatchString(k) {
			return nil, validation("ExpressionAttributeNames contains invalid key: Syntax error; key: %q", k)
		}
		if n == "" {
			return nil, validation("ExpressionAttributeNames contains invalid value: Empty attribute name; key: %q", k)
		}
	}
	for k, raw := range p.ExpressionAttributeValues {
		if !valueKeyRE.MatchString(k) {
			return nil, validation("ExpressionAttributeValues contains invalid key: Syntax error; key: %q", k)
		}
		v, err := parseValue(raw)
		if err != nil {
			if err.Code == "ValidationException" {
				err.Message = "ExpressionAttributeValues contains invalid value: " + err.Message + " for key " + k
			}
			return nil, err
		}
		env.values[k] = v
	}
	return env, nil
}

// checkUnused refuses names and values no expression used, as DynamoDB does; prefix is the
// "1 validation error detected: " AWS puts before the message for PutItem and DeleteItem.
func (e *exprEnv) checkUnused(prefix string) *core.Error {
	if u := unused(e.names, e.usedNames); u != "" {
		return validation("%sValue provided in ExpressionAttributeNames unused in expressions: keys: %s", prefix, u)
	}
	if u := unused(e.values, e.usedVals); u != "" {
		return validation("%sValue provided in ExpressionAttributeValues unused in expressions: keys: %s", prefix, u)
	}
	return nil
}

var returnValuesSet = map[string]bool{"NONE": true, "ALL_OLD": true, "UPDATED_OLD": true, "ALL_NEW": true, "UPDATED_NEW": true}

// checkReturnValues validates ReturnValues (oldOnly: PutItem and DeleteItem accept NONE and
// ALL_OLD only) and ReturnValuesOnConditionCheckFailure.
func checkReturnValues(rv, onFailure string, oldOnly bool) *core.Error {
	if rv != "" && !returnValuesSet[rv] {
		return validation("1 validation error detected: Value '%s' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]", rv)
	}
	if oldOnly && rv != "" && rv != "NONE" && rv != "ALL_OLD" {
		return validation("ReturnValues can only be ALL_OLD or NONE")
	}
	if onFailure != "" && onFailure != "NONE" && onFailure != "ALL_OLD" {
		return validation("1 validation error detected: Value '%s' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]", onFailure)
	}
	return nil
}

// conditionFailed is ConditionalCheckFailedException, with the item as it is when the request
// asked for it (ReturnValuesOnConditionCheckFailure ALL_OLD) and there is one.
func conditionFailed(old item, onFailure string) *core.Error {
	e := core.Errorf("ConditionalCheckFailedException", "The conditional request failed")
	if onFailure == "ALL_OLD" && old != nil {
		e.Fields = map[string]any{"Item": old}
	}
	return e
}

func emptyKeyValue(name string) *core.Error {
	return validation("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: %s", name)
}

func (t *table) checkKeySizes(vals []value) *core.Error {
	for i, v := range vals {
		switch {
		case i == 0 && len(v.s) > maxHashBytes:
			return validation(invalidParams+"Size of hashkey has exceeded the maximum size limit of%d bytes", maxHashBytes)
		case i == 1 && len(v.s) > maxRangeBytes:
			return validation(invalidParams+"Aggregated size of all range keys has exceeded the size limit of %d bytes", maxRangeBytes)
		}
	}
	return nil
}

// key reads a Key member: exactly the table's key attributes, of their defined types.
func (t *table) key(raw map[string]json.RawMessage) (string, item, *core.Error) {
	if raw == nil {
		return "", nil, validation("1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null")
	}
	k, err := parseItem(raw)
	if err != nil {
		return "", nil, err
	}
	if len(k) != len(t.keys) {
		return "", nil, validation("The provided key element does not match the schema")
	}
	vals := make([]value, 0, len(t.keys))
	for _, ke := range t.keys {
		v, ok := k[ke.AttributeName]
		if !ok || v.typ != t.keyType(ke.AttributeName) {
			return "", nil, validation("The provided key element does not match the schema")
		}
		if v.s == "" && v.typ == "S" {
			return "", nil, emptyKeyValue(ke.AttributeName)
		}
		vals = append(vals, v)
	}
	if err := t.checkKeySizes(vals); err != nil {
		return "", nil, err
	}
	return keyString(vals...), k, nil
}

// itemKey reads the key of a whole item (PutItem), with PutItem's messages.
func (t *table) itemKey(it item) (string, *core.Error) {
	vals := make([]value, 0, len(t.keys))
	for _, ke := range t.keys {
		v, ok := it[ke.AttributeName]
		if !ok {
			return "", validation(invalidParams+"Missing the key %s in the item", ke.AttributeName)
		}
		if want := t.keyType(ke.AttributeName); v.typ != want {
			return "", validation(invalidParams+"Type mismatch for key %s expected: %s actual: %s", ke.AttributeName, want, v.typ)
		}
		if v.s == "" && v.typ == "S" {
			return "", emptyKeyValue(ke.AttributeName)
		}
		vals = append(vals, v)
	}
	if err := t.checkKeySizes(vals); err != nil {
		return "", err
	}
	return keyString(vals...), nil
}

// attributes is an output's Attributes member, absent when empty.
func attributes(it item) map[string]any {
	if len(it) == 0 {
		return map[string]any{}
	}
	return map[string]any{"Attributes": it}
}

type getItemInput struct {
	TableName      string
	Key            map[string]json.RawMessage
	ConsistentRead *bool
	exprParams
}

func (getItemInput) members() []string {
	return []string{"TableName", "Key", "ConsistentRead", "ReturnConsumedCapacity"}
}

// getItem reads an item. Every read is strongly consistent in the sandbox, ConsistentRead or not.
func (s *Service) getItem(_ context.Context, in getItemInput) (any, error) {
	if _, err := in.env(nil, nil); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTable(in.TableName, true)
	if err != nil {
		return nil, err
	}
	k, _, err := t.key(in.Key)
	if err != nil {
		return nil, err
	}
	if it, ok := t.items[k]; ok {
		return map[string]any{"Item": it}, nil
	}
	return map[string]any{}, nil
}

type putItemInput struct {
	TableName                           string
	Item                                map[string]json.RawMessage
	ConditionExpression                 *string
	ReturnValues                        string
	ReturnValuesOnConditionCheckFailure string
	exprParams
}

func (putItemInput) members() []string {
	return []string{"TableName", "Item", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues",
		"ReturnValues", "ReturnValuesOnConditionCheckFailure", "ReturnConsumedCapacity"}
}

// parseConditionMember parses an optional ConditionExpression.
func parseConditionMember(src *string, env *exprEnv) (condition, *core.Error) {
	if src == nil {
		return nil, nil
	}
	return parseCondition(*src, env)
}

func (s *Service) putItem(_ context.Context, in putItemInput) (any, error) {
	if in.Item == nil {
		return nil, validation("1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null")
	}
	env, err := in.env([]string{"ConditionExpression"}, map[string]bool{"ConditionExpression": in.ConditionExpression != nil})
	if err != nil {
		return nil, err
	}
	it, err := parseItem(in.Item)
	if err != nil {
		return nil, err
	}
	if err := checkReturnValues(in.ReturnValues, in.ReturnValuesOnConditionCheckFailure, true); err != nil {
		return nil, err
	}
	if it.size() > maxItemBytes {
		return nil, validation("Item size has exceeded the maximum allowed size")
	}
	cond, err := parseConditionMember(in.ConditionExpression, env)
	if err != nil {
		return nil, err
	}
	if err := env.checkUnused("1 validation error detected: "); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTable(in.TableName, true)
	if err != nil {
		return nil, err
	}
	k, err := t.itemKey(it)
	if err != nil {
		return nil, err
	}
	old := t.items[k]
	if cond != nil && !cond.holds(old) {
		return nil, conditionFailed(old, in.ReturnValuesOnConditionCheckFailure)
	}
	t.items[k] = it
	if in.ReturnValues == "ALL_OLD" {
		return attributes(old), nil
	}
	return map[string]any{}, nil
}

type updateItemInput struct {
	TableName                           string
	Key                                 map[string]json.RawMessage
	UpdateExpression                    *string
	ConditionExpression                 *string
	ReturnValues                        string
	ReturnValuesOnConditionCheckFailure string
	exprParams
}

func (updateItemInput) members() []string {
	return []string{"TableName", "Key", "UpdateExpression", "ConditionExpression", "ExpressionAttributeNames",
		"ExpressionAttributeValues", "ReturnValues", "ReturnValuesOnConditionCheckFailure", "ReturnConsumedCapacity"}
}

// updateItem changes an item, or makes it (its key plus what the update sets) when there is none.
func (s *Service) updateItem(_ context.Context, in updateItemInput) (any, error) {
	env, err := in.env([]string{"UpdateExpression", "ConditionExpression"},
		map[string]bool{"UpdateExpression": in.UpdateExpression != nil, "ConditionExpression": in.ConditionExpression != nil})
	if err != nil {
		return nil, err
	}
	if err := checkReturnValues(in.ReturnValues, in.ReturnValuesOnConditionCheckFailure, false); err != nil {
		return nil, err
	}
	var upd update
	if in.UpdateExpression != nil {
		if upd, err = parseUpdate(*in.UpdateExpression, env); err != nil {
			return nil, err
		}
	}
	cond, err := parseConditionMember(in.ConditionExpression, env)
	if err != nil {
		return nil, err
	}
	if err := env.checkUnused(""); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTable(in.TableName, true)
	if err != nil {
		return nil, err
	}
	k, key, err := t.key(in.Key)
	if err != nil {
		return nil, err
	}
	for _, a := range upd.sets {
		if _, isKey := key[a.path]; isKey {
			return nil, validation(invalidParams+"Cannot update attribute %s. This attribute is part of the key", a.path)
		}
	}
	for _, a := range upd.adds {
		if _, isKey := key[a.path]; isKey {
			return nil, validation(invalidParams+"Cannot update attribute %s. This attribute is part of the key", a.path)
		}
	}
	old, existed := t.items[k]
	if cond != nil && !cond.holds(old) {
		return nil, conditionFailed(old, in.ReturnValuesOnConditionCheckFailure)
	}
	next, changed, err := upd.apply(old)
	if err != nil {
		return nil, err
	}
	for name, v := range key {
		next[name] = v
	}
	if next.size() > maxItemBytes {
		return nil, validation("Item size to update has exceeded the maximum allowed size")
	}
	t.items[k] = next
	out := item{}
	switch in.ReturnValues {
	case "ALL_OLD":
		if existed {
			out = old
		}
	case "ALL_NEW":
		out = next
	case "UPDATED_OLD":
		for _, name := range changed {
			if v, ok := old[name]; ok {
				out[name] = v
			}
		}
	case "UPDATED_NEW":
		for _, name := range changed {
			out[name] = next[name]
		}
	}
	return attributes(out), nil
}

type deleteItemInput struct {
	TableName                           string
	Key                                 map[string]json.RawMessage
	ConditionExpression                 *string
	ReturnValues                        string
	ReturnValuesOnConditionCheckFailure string
	exprParams
}

func (deleteItemInput) members() []string {
	return []string{"TableName", "Key", "ConditionExpression", "ExpressionAttributeNames", "ExpressionAttributeValues",
		"ReturnValues", "ReturnValuesOnConditionCheckFailure", "ReturnConsumedCapacity"}
}

func (s *Service) deleteItem(_ context.Context, in deleteItemInput) (any, error) {
	env, err := in.env([]string{"ConditionExpression"}, map[string]bool{"ConditionExpression": in.ConditionExpression != nil})
	if err != nil {
		return nil, err
	}
	if err := checkReturnValues(in.ReturnValues, in.ReturnValuesOnConditionCheckFailure, true); err != nil {
		return nil, err
	}
	cond, err := parseConditionMember(in.ConditionExpression, env)
	if err != nil {
		return nil, err
	}
	if err := env.checkUnused("1 validation error detected: "); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTable(in.TableName, true)
	if err != nil {
		return nil, err
	}
	k, _, err := t.key(in.Key)
	if err != nil {
		return nil, err
	}
	old := t.items[k]
	if cond != nil && !cond.holds(old) {
		return nil, conditionFailed(old, in.ReturnValuesOnConditionCheckFailure)
	}
	delete(t.items, k)
	if in.ReturnValues == "ALL_OLD" {
		return attributes(old), nil
	}
	return map[string]any{}, nil
}
