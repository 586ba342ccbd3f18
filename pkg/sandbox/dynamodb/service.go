package dynamodb

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/pkg/sandbox/core"
)

// Option configures a Service.
type Option func(*Service)

// WithRegion sets the region of table ARNs (default us-east-1).
func WithRegion(region string) Option { return core.WithRegion[Service](region) }

// WithAccount sets the account of table ARNs (default 123456789012).
func WithAccount(account string) Option { return core.WithAccount[Service](account) }

// Service is the emulated DynamoDB. It is safe for concurrent use: one lock orders every
// operation, so each conditional write is atomic as DynamoDB's are.
type Service struct {
	core.JSONProtocol
	clock core.Clock
	core.Place

	mu     sync.Mutex
	tables map[string]*table // by name
}

// New returns a DynamoDB with no tables.
func New(clock core.Clock, opts ...Option) *Service {
	s := &Service{JSONProtocol: identity, clock: clock, Place: core.DefaultPlace, tables: map[string]*table{}}
	return core.Configure(s, opts)
}

// identity is how DynamoDB is addressed on the wire: JSON 1.0, X-Amz-Target DynamoDB_20120810.<Op>.
var identity = core.NewJSONProtocol("dynamodb", "DynamoDB_20120810", "1.0")

var (
	_ core.JSONService = (*Service)(nil)
	_ core.FaultCodes  = (*Service)(nil)
)

// InternalError implements core.FaultCodes with DynamoDB's InternalServerError.
func (s *Service) InternalError() *core.Error {
	return core.StatusErrorf(http.StatusInternalServerError, "InternalServerError", "Internal server error (injected by the sandbox)")
}

// Operations implements core.JSONService.
func (s *Service) Operations() map[string]core.JSONOperation {
	return map[string]core.JSONOperation{
		"CreateTable":        operation(s.createTable),
		"DescribeTable":      operation(s.describeTable),
		"DeleteTable":        operation(s.deleteTable),
		"UpdateTimeToLive":   operation(s.updateTimeToLive),
		"DescribeTimeToLive": operation(s.describeTimeToLive),
		"GetItem":            operation(s.getItem),
		"PutItem":            operation(s.putItem),
		"UpdateItem":         operation(s.updateItem),
		"DeleteItem":         operation(s.deleteItem),
	}
}

// input is an operation's request shape; members lists the top-level members the sandbox
// implements for it.
type input interface{ members() []string }

// operation decodes an operation's input. A member of the operation that the sandbox does not
// implement (Tags, ProjectionExpression, the legacy Expected, ...) is refused by name, so a
// request never half-works: what is accepted is applied.
func operation[I input](op func(ctx context.Context, in I) (any, error)) core.JSONOperation {
	return func(ctx context.Context, raw json.RawMessage) (any, error) {
		var in I
		var members map[string]json.RawMessage
		if err := core.Decode(raw, &members); err != nil {
			return nil, err
		}
		known := map[string]bool{}
		for _, m := range in.members() {
			known[m] = true
		}
		var refused []string
		for m, v := range members {
			if !known[m] && string(v) != "null" {
				refused = append(refused, m)
			}
		}
		if len(refused) > 0 {
			sort.Strings(refused)
			return nil, validation("the sandbox's DynamoDB does not support %s in this operation", strings.Join(refused, ", "))
		}
		if err := core.Decode(raw, &in); err != nil {
			return nil, err
		}
		return op(ctx, in)
	}
}

// table is one table and its items. Guarded by Service.mu.
type table struct {
	name, arn, id string
	keys          []keyElement // the HASH key, then the RANGE key if any
	defs          []attributeDefinition
	billing       string
	throughput    provisionedThroughput
	sse           *sseDescription
	ttlAttribute  string // "" while TTL is disabled
	created       time.Time
	items         map[string]item // by keyString of the key values
}

type keyElement struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type attributeDefinition struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

type provisionedThroughput struct {
	ReadCapacityUnits  *int64 `json:"ReadCapacityUnits,omitempty"`
	WriteCapacityUnits *int64 `json:"WriteCapacityUnits,omitempty"`
}

type sseSpecification struct {
	Enabled        *bool  `json:"Enabled"`
	SSEType        string `json:"SSEType"`
	KMSMasterKeyId string `json:"KMSMasterKeyId"`
}

type sseDescription struct {
	Status          string `json:"Status"`
	SSEType         string `json:"SSEType"`
	KMSMasterKeyArn string `json:"KMSMasterKeyArn"`
}

// keyType returns the type its definition gives a key attribute.
func (t *table) keyType(name string) string {
	for _, d := range t.defs {
		if d.AttributeName == name {
			return d.AttributeType
		}
	}
	return ""
}

var (
	tableNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)
	tableARNRE  = regexp.MustCompile(`^arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table/([a-zA-Z0-9_.-]{3,255})$`)
)

// checkTableName validates a TableName member: a name, or for item operations also a table ARN.
func checkTableName(name string, arnAllowed bool) (string, *core.Error) {
	if name == "" {
		return "", validation("1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null")
	}
	if arnAllowed && strings.HasPrefix(name, "arn:") {
		m := tableARNRE.FindStringSubmatch(name)
		if m == nil {
			return "", validation("Invalid TableName: %s is not a DynamoDB table ARN", name)
		}
		return m[1], nil
	}
	switch {
	case len(name) < 3:
		return "", validation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 3", name)
	case len(name) > 255:
		return "", validation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must have length less than or equal to 255", name)
	case !tableNameRE.MatchString(name):
		return "", validation("1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", name)
	}
	return name, nil
}

// findTable returns an ACTIVE table; item operations answer a missing one without naming it,
// as DynamoDB does.
func (s *Service) findTable(name string, arnAllowed bool) (*table, *core.Error) {
	name, err := checkTableName(name, arnAllowed)
	if err != nil {
		return nil, err
	}
	t, ok := s.tables[name]
	if !ok {
		if arnAllowed {
			return nil, core.Errorf("ResourceNotFoundException", "Requested resource not found")
		}
		return nil, core.Errorf("ResourceNotFoundException", "Requested resource not found: Table: %s not found", name)
	}
	return t, nil
}

type createTableInput struct {
	TableName             string
	AttributeDefinitions  []attributeDefinition
	KeySchema             []keyElement
	BillingMode           string
	ProvisionedThroughput *provisionedThroughput
	SSESpecification      *sseSpecification
}

func (createTableInput) members() []string {
	return []string{"TableName", "AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput", "SSESpecification"}
}

// tableDescription is DescribeTable's Table, CreateTable's and DeleteTable's TableDescription.
type tableDescription struct {
	TableName             string                `json:"TableName"`
	TableArn              string                `json:"TableArn"`
	TableId               string                `json:"TableId"`
	TableStatus           string                `json:"TableStatus"`
	KeySchema             []keyElement          `json:"KeySchema"`
	AttributeDefinitions  []attributeDefinition `json:"AttributeDefinitions"`
	CreationDateTime      core.EpochTime        `json:"CreationDateTime"`
	ItemCount             int                   `json:"ItemCount"`
	TableSizeBytes        int                   `json:"TableSizeBytes"`
	ProvisionedThroughput throughputDescription `json:"ProvisionedThroughput"`
	BillingModeSummary    *billingModeSummary   `json:"BillingModeSummary,omitempty"`
	SSEDescription        *sseDescription       `json:"SSEDescription,omitempty"`
	DeletionProtection    bool                  `json:"DeletionProtectionEnabled"`
}

type throughputDescription struct {
	NumberOfDecreasesToday int64 `json:"NumberOfDecreasesToday"`
	ReadCapacityUnits      int64 `json:"ReadCapacityUnits"`
	WriteCapacityUnits     int64 `json:"WriteCapacityUnits"`
}

type billingModeSummary struct {
	BillingMode                       string         `json:"BillingMode"`
	LastUpdateToPayPerRequestDateTime core.EpochTime `json:"LastUpdateToPayPerRequestDateTime"`
}

func (t *table) describe(status string) tableDescription {
	size := 0
	for _, it := range t.items {
		size += it.size()
	}
	d := tableDescription{
		TableName: t.name, TableArn: t.arn, TableId: t.id, TableStatus: status,
		KeySchema: t.keys, AttributeDefinitions: t.defs, CreationDateTime: core.EpochTime(t.created),
		ItemCount: len(t.items), TableSizeBytes: size, SSEDescription: t.sse,
	}
	if t.billing == "PAY_PER_REQUEST" {
		d.BillingModeSummary = &billingModeSummary{BillingMode: t.billing, LastUpdateToPayPerRequestDateTime: core.EpochTime(t.created)}
	} else {
		d.ProvisionedThroughput.ReadCapacityUnits = *t.throughput.ReadCapacityUnits
		d.ProvisionedThroughput.WriteCapacityUnits = *t.throughput.WriteCapacityUnits
	}
	return d
}

const invalidParams = "One or more parameter values were invalid: "

func (s *Service) createTable(_ context.Context, in createTableInput) (any, error) {
	name, err := checkTableName(in.TableName, false)
	if err != nil {
		return nil, err
	}
	if len(in.KeySchema) == 0 {
		return nil, validation("1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null")
	}
	if len(in.AttributeDefinitions) == 0 {
		return nil, validation("1 validation error detected: Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null")
	}
	if len(in.KeySchema) > 2 {
		return nil, validation("1 validation error detected: Value '%v' at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2", in.KeySchema)
	}
	if in.KeySchema[0].KeyType != "HASH" {
		return nil, validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
	}
	if len(in.KeySchema) == 2 {
		if in.KeySchema[1].KeyType != "RANGE" {
			return nil, validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type")
		}
		if in.KeySchema[0].AttributeName == in.KeySchema[1].AttributeName {
			return nil, validation("Both the Hash Key and the Range Key element in the KeySchema have the same name")
		}
	}
	defined := map[string]string{}
	var defNames, keyNames []string
	for _, d := range in.AttributeDefinitions {
		switch d.AttributeType {
		case "S", "N":
		case "B":
			return nil, validation("the sandbox's DynamoDB supports key attribute types S and N, not B")
		default:
			return nil, validation("1 validation error detected: Value '%s' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]", d.AttributeType)
		}
		defined[d.AttributeName] = d.AttributeType
		defNames = append(defNames, d.AttributeName)
	}
	for _, k := range in.KeySchema {
		keyNames = append(keyNames, k.AttributeName)
	}
	for _, k := range in.KeySchema {
		if _, ok := defined[k.AttributeName]; !ok {
			return nil, validation(invalidParams+"Some index key attributes are not defined in AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]",
				strings.Join(keyNames, ", "), strings.Join(defNames, ", "))
		}
	}
	if len(in.AttributeDefinitions) != len(in.KeySchema) {
		return nil, validation(invalidParams + "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
	}
	billing := in.BillingMode
	if billing == "" {
		billing = "PROVISIONED"
	}
	tp := in.ProvisionedThroughput
	switch billing {
	case "PROVISIONED":
		if tp == nil || tp.ReadCapacityUnits == nil || tp.WriteCapacityUnits == nil {
			return nil, validation(invalidParams + "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED")
		}
		if *tp.ReadCapacityUnits < 1 || *tp.WriteCapacityUnits < 1 {
			return nil, validation(invalidParams + "ReadCapacityUnits and WriteCapacityUnits must both be at least 1")
		}
	case "PAY_PER_REQUEST":
		if tp != nil {
			return nil, validation(invalidParams + "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST")
		}
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]", in.BillingMode)
	}
	sse, err := s.sse(in.SSESpecification)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.tables[name]; ok {
		return nil, core.Errorf("ResourceInUseException", "Table already exists: %s", name)
	}
	t := &table{
		name: name, arn: fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", s.Region(), s.Account(), name), id: core.NewUUID(),
		keys: in.KeySchema, defs: in.AttributeDefinitions, billing: billing, sse: sse,
		created: s.clock.Now(), items: map[string]item{},
	}
	if tp != nil {
		t.throughput = *tp
	}
	s.tables[name] = t
	// AWS answers CREATING and the table becomes ACTIVE later; the sandbox's is usable at once
	// (DescribeTable already says ACTIVE), so a client that waits for ACTIVE waits one call.
	return map[string]any{"TableDescription": t.describe("CREATING")}, nil
}

// sse checks an SSESpecification. Enabled means a KMS key (the AWS managed alias/aws/dynamodb
// unless KMSMasterKeyId names one); the key is reported, not used or checked against KMS.
func (s *Service) sse(spec *sseSpecification) (*sseDescription, *core.Error) {
	if spec == nil || spec.Enabled == nil || !*spec.Enabled {
		if spec != nil && (spec.SSEType != "" || spec.KMSMasterKeyId != "") {
			return nil, validation("SSEType and KMSMasterKeyId can be specified only when SSESpecification is enabled")
		}
		return nil, nil
	}
	switch spec.SSEType {
	case "", "KMS":
	case "AES256":
		return nil, validation("the sandbox's DynamoDB supports SSEType KMS only")
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'sSESpecification.sSEType' failed to satisfy constraint: Member must satisfy enum value set: [AES256, KMS]", spec.SSEType)
	}
	key := spec.KMSMasterKeyId
	switch {
	case key == "":
		key = fmt.Sprintf("arn:aws:kms:%s:%s:alias/aws/dynamodb", s.Region(), s.Account())
	case strings.HasPrefix(key, "arn:"):
	case strings.HasPrefix(key, "alias/"):
		key = fmt.Sprintf("arn:aws:kms:%s:%s:%s", s.Region(), s.Account(), key)
	default:
		key = fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.Region(), s.Account(), key)
	}
	return &sseDescription{Status: "ENABLED", SSEType: "KMS", KMSMasterKeyArn: key}, nil
}

type tableNameInput struct{ TableName string }

func (tableNameInput) members() []string { return []string{"TableName"} }

func (s *Service) describeTable(_ context.Context, in tableNameInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTable(in.TableName, false)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Table": t.describe("ACTIVE")}, nil
}

// deleteTable removes the table and its items at once (AWS answers DELETING and removes it later).
func (s *Service) deleteTable(_ context.Context, in tableNameInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTable(in.TableName, false)
	if err != nil {
		return nil, err
	}
	delete(s.tables, t.name)
	return map[string]any{"TableDescription": t.describe("DELETING")}, nil
}

type ttlSpecification struct {
	AttributeName string `json:"AttributeName"`
	Enabled       *bool  `json:"Enabled"`
}

type updateTTLInput struct {
	TableName               string
	TimeToLiveSpecification *ttlSpecification
}

func (updateTTLInput) members() []string { return []string{"TableName", "TimeToLiveSpecification"} }

// updateTimeToLive records the TTL attribute. The sandbox never deletes expired items (AWS does
// within days of expiry, so code must not rely on it either); DescribeTimeToLive reports it.
func (s *Service) updateTimeToLive(_ context.Context, in updateTTLInput) (any, error) {
	spec := in.TimeToLiveSpecification
	if spec == nil || spec.Enabled == nil {
		return nil, validation("1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy constraint: Member must not be null")
	}
	if spec.AttributeName == "" || len(spec.AttributeName) > 255 {
		return nil, validation("1 validation error detected: Value '%s' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must have length between 1 and 255", spec.AttributeName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTable(in.TableName, false)
	if err != nil {
		return nil, err
	}
	switch {
	case *spec.Enabled && t.ttlAttribute != "":
		return nil, validation("TimeToLive is already enabled")
	case !*spec.Enabled && t.ttlAttribute == "":
		return nil, validation("TimeToLive is already disabled")
	case !*spec.Enabled && t.ttlAttribute != spec.AttributeName:
		return nil, validation("TimeToLive is enabled on attribute %s, not %s", t.ttlAttribute, spec.AttributeName)
	}
	if *spec.Enabled {
		t.ttlAttribute = spec.AttributeName
	} else {
		t.ttlAttribute = ""
	}
	return map[string]any{"TimeToLiveSpecification": spec}, nil
}

func (s *Service) describeTimeToLive(_ context.Context, in tableNameInput) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.findTable(in.TableName, false)
	if err != nil {
		return nil, err
	}
	desc := map[string]string{"TimeToLiveStatus": "DISABLED"}
	if t.ttlAttribute != "" {
		desc = map[string]string{"TimeToLiveStatus": "ENABLED", "AttributeName": t.ttlAttribute}
	}
	return map[string]any{"TimeToLiveDescription": desc}, nil
}
