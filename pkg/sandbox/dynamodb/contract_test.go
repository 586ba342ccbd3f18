package dynamodb_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/strongroom/strongroom/pkg/sandbox"
	"github.com/strongroom/strongroom/pkg/sandbox/dynamodb"
	"github.com/strongroom/strongroom/pkg/sandbox/testkit/sandboxtest"
)

// newClient serves a DynamoDB alone on a sandbox server and returns a real SDK client for it
// (one attempt per call, so each exception is seen as the service answered it).
func newClient(t testing.TB) *awsddb.Client {
	t.Helper()
	srv := sandbox.NewServer(sandbox.Options{})
	srv.RegisterJSON(dynamodb.New(srv.Clock))
	return awsddb.NewFromConfig(sandboxtest.Serve(t, srv))
}

func s(v string) types.AttributeValue     { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue     { return &types.AttributeValueMemberN{Value: v} }
func boolean(v bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: v} }

// createTable makes a PAY_PER_REQUEST table keyed by pk (S) and, when sortKey is set, sk (N).
func createTable(t testing.TB, c *awsddb.Client, name string, sortKey bool) {
	t.Helper()
	in := &awsddb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
	}
	if sortKey {
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange})
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeN})
	}
	if _, err := c.CreateTable(context.Background(), in); err != nil {
		t.Fatalf("CreateTable %s: %v", name, err)
	}
}

func key(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk)}
}

func put(t testing.TB, c *awsddb.Client, table string, it map[string]types.AttributeValue) {
	t.Helper()
	if _, err := c.PutItem(context.Background(), &awsddb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
}

func get(t testing.TB, c *awsddb.Client, table string, k map[string]types.AttributeValue) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(context.Background(), &awsddb.GetItemInput{TableName: aws.String(table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	return out.Item
}

func wantItem(t testing.TB, got, want map[string]types.AttributeValue) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("item\n%#v\nwant\n%#v", render(got), render(want))
	}
}

// render writes an item readably for failure messages.
func render(it map[string]types.AttributeValue) string {
	var b strings.Builder
	for k, v := range it {
		switch x := v.(type) {
		case *types.AttributeValueMemberS:
			fmt.Fprintf(&b, "%s=S:%q ", k, x.Value)
		case *types.AttributeValueMemberN:
			fmt.Fprintf(&b, "%s=N:%s ", k, x.Value)
		case *types.AttributeValueMemberBOOL:
			fmt.Fprintf(&b, "%s=BOOL:%v ", k, x.Value)
		case *types.AttributeValueMemberM:
			fmt.Fprintf(&b, "%s=M:{%s} ", k, render(x.Value))
		default:
			fmt.Fprintf(&b, "%s=%T ", k, v)
		}
	}
	return b.String()
}

func TestTableLifecycle(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	created, err := c.CreateTable(ctx, &awsddb.CreateTableInput{
		TableName:            aws.String("state"),
		BillingMode:          types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		SSESpecification:     &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms, KMSMasterKeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := created.TableDescription; d.TableStatus != types.TableStatusCreating || aws.ToString(d.TableArn) != "arn:aws:dynamodb:us-east-1:123456789012:table/state" {
		t.Fatalf("CreateTable answered %s %s", d.TableStatus, aws.ToString(d.TableArn))
	}
	desc, err := c.DescribeTable(ctx, &awsddb.DescribeTableInput{TableName: aws.String("state")})
	if err != nil {
		t.Fatal(err)
	}
	d := desc.Table
	if d.TableStatus != types.TableStatusActive || len(d.KeySchema) != 1 || aws.ToString(d.KeySchema[0].AttributeName) != "pk" ||
		d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest || d.CreationDateTime == nil {
		t.Fatalf("DescribeTable: %+v", d)
	}
	if d.SSEDescription == nil || d.SSEDescription.Status != types.SSEStatusEnabled ||
		aws.ToString(d.SSEDescription.KMSMasterKeyArn) != "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" {
		t.Fatalf("SSEDescription: %+v", d.SSEDescription)
	}
	_, err = c.CreateTable(ctx, &awsddb.CreateTableInput{
		TableName: aws.String("state"), BillingMode: types.BillingModePayPerRequest,
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
	})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) || aws.ToString(inUse.Message) != "Table already exists: state" {
		t.Fatalf("second CreateTable: %v", err)
	}

	ttl, err := c.DescribeTimeToLive(ctx, &awsddb.DescribeTimeToLiveInput{TableName: aws.String("state")})
	if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusDisabled {
		t.Fatalf("DescribeTimeToLive before: %v %+v", err, ttl)
	}
	spec := &types.TimeToLiveSpecification{AttributeName: aws.String("expiresAt"), Enabled: aws.Bool(true)}
	if _, err := c.UpdateTimeToLive(ctx, &awsddb.UpdateTimeToLiveInput{TableName: aws.String("state"), TimeToLiveSpecification: spec}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateTimeToLive(ctx, &awsddb.UpdateTimeToLiveInput{TableName: aws.String("state"), TimeToLiveSpecification: spec})
	if msg := sandboxtest.WantCode(t, err, "ValidationException"); msg != "TimeToLive is already enabled" {
		t.Fatalf("enable twice: %s", msg)
	}
	ttl, err = c.DescribeTimeToLive(ctx, &awsddb.DescribeTimeToLiveInput{TableName: aws.String("state")})
	if err != nil || ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expiresAt" {
		t.Fatalf("DescribeTimeToLive after: %v %+v", err, ttl.TimeToLiveDescription)
	}

	put(t, c, "state", map[string]types.AttributeValue{"pk": s("a")})
	if desc, _ := c.DescribeTable(ctx, &awsddb.DescribeTableInput{TableName: aws.String("state")}); aws.ToInt64(desc.Table.ItemCount) != 1 {
		t.Fatalf("ItemCount %d after one put", aws.ToInt64(desc.Table.ItemCount))
	}
	deleted, err := c.DeleteTable(ctx, &awsddb.DeleteTableInput{TableName: aws.String("state")})
	if err != nil || deleted.TableDescription.TableStatus != types.TableStatusDeleting {
		t.Fatalf("DeleteTable: %v", err)
	}
	_, err = c.DescribeTable(ctx, &awsddb.DescribeTableInput{TableName: aws.String("state")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) || aws.ToString(notFound.Message) != "Requested resource not found: Table: state not found" {
		t.Fatalf("DescribeTable after delete: %v", err)
	}
	_, err = c.GetItem(ctx, &awsddb.GetItemInput{TableName: aws.String("state"), Key: key("a")})
	if !errors.As(err, &notFound) || aws.ToString(notFound.Message) != "Requested resource not found" {
		t.Fatalf("GetItem after delete: %v", err)
	}
}

func TestCreateTableRefusals(t *testing.T) {
	c := newClient(t)
	hash := []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}
	defS := func(names ...string) []types.AttributeDefinition {
		var out []types.AttributeDefinition
		for _, n := range names {
			out = append(out, types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS})
		}
		return out
	}
	cases := []sandboxtest.ErrorCase[*awsddb.CreateTableInput]{
		{Name: "provisioned without throughput", In: &awsddb.CreateTableInput{TableName: aws.String("tab1"), KeySchema: hash, AttributeDefinitions: defS("pk")},
			Want: "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"},
		{Name: "on demand with throughput", In: &awsddb.CreateTableInput{TableName: aws.String("tab1"), KeySchema: hash, AttributeDefinitions: defS("pk"), BillingMode: types.BillingModePayPerRequest,
			ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)}},
			Want: "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"},
		{Name: "key not defined", In: &awsddb.CreateTableInput{TableName: aws.String("tab1"), KeySchema: hash, AttributeDefinitions: defS("other"), BillingMode: types.BillingModePayPerRequest},
			Want: "Some index key attributes are not defined in AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]"},
		{Name: "a definition no key uses", In: &awsddb.CreateTableInput{TableName: aws.String("tab1"), KeySchema: hash, AttributeDefinitions: defS("pk", "expiresAt"), BillingMode: types.BillingModePayPerRequest},
			Want: "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions"},
		{Name: "binary key", In: &awsddb.CreateTableInput{TableName: aws.String("tab1"), KeySchema: hash, BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeB}}},
			Want: "supports key attribute types S and N, not B"},
		{Name: "name too short", In: &awsddb.CreateTableInput{TableName: aws.String("t"), KeySchema: hash, AttributeDefinitions: defS("pk"), BillingMode: types.BillingModePayPerRequest},
			Want: "Member must have length greater than or equal to 3"},
		{Name: "an index", In: &awsddb.CreateTableInput{TableName: aws.String("tab1"), KeySchema: hash, AttributeDefinitions: defS("pk"), BillingMode: types.BillingModePayPerRequest,
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{IndexName: aws.String("i"), KeySchema: hash, Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll}}}},
			Want: "does not support GlobalSecondaryIndexes"},
	}
	sandboxtest.WantErrors(t, cases, func(t *testing.T, in *awsddb.CreateTableInput) error {
		_, err := c.CreateTable(context.Background(), in)
		if err != nil {
			sandboxtest.WantCode(t, err, "ValidationException")
		}
		return err
	})
}

func TestItemsRoundTrip(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	createTable(t, c, "items", false)
	it := map[string]types.AttributeValue{
		"pk": s("alert/1"), "status": s(""), "count": n("0010.50"), "big": n("-1.5e3"), "on": boolean(true),
		"detail": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"who": s("root"), "n": n("1")}},
	}
	put(t, c, "items", it)
	want := map[string]types.AttributeValue{
		"pk": s("alert/1"), "status": s(""), "count": n("10.5"), "big": n("-1500"), "on": boolean(true),
		"detail": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"who": s("root"), "n": n("1")}},
	}
	wantItem(t, get(t, c, "items", key("alert/1")), want)
	if got := get(t, c, "items", key("alert/2")); got != nil {
		t.Fatalf("GetItem of a missing item: %v", render(got))
	}
	// A table ARN names the table for item operations.
	out, err := c.GetItem(ctx, &awsddb.GetItemInput{TableName: aws.String("arn:aws:dynamodb:us-east-1:123456789012:table/items"), Key: key("alert/1")})
	if err != nil || out.Item == nil {
		t.Fatalf("GetItem by ARN: %v", err)
	}

	old, err := c.PutItem(ctx, &awsddb.PutItemInput{TableName: aws.String("items"), Item: key("alert/1"), ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		t.Fatal(err)
	}
	wantItem(t, old.Attributes, want)
	wantItem(t, get(t, c, "items", key("alert/1")), key("alert/1"))
	fresh, err := c.PutItem(ctx, &awsddb.PutItemInput{TableName: aws.String("items"), Item: key("alert/3"), ReturnValues: types.ReturnValueAllOld})
	if err != nil || fresh.Attributes != nil {
		t.Fatalf("PutItem ALL_OLD of a new item: %v %v", err, render(fresh.Attributes))
	}
	del, err := c.DeleteItem(ctx, &awsddb.DeleteItemInput{TableName: aws.String("items"), Key: key("alert/3"), ReturnValues: types.ReturnValueAllOld})
	if err != nil {
		t.Fatal(err)
	}
	wantItem(t, del.Attributes, key("alert/3"))
	if got := get(t, c, "items", key("alert/3")); got != nil {
		t.Fatalf("deleted item still there: %v", render(got))
	}

	// A sort key: items differ by it, numbers match by value ("1.0" is "1").
	createTable(t, c, "sorted", true)
	put(t, c, "sorted", map[string]types.AttributeValue{"pk": s("a"), "sk": n("1.0"), "v": s("one")})
	put(t, c, "sorted", map[string]types.AttributeValue{"pk": s("a"), "sk": n("2"), "v": s("two")})
	got := get(t, c, "sorted", map[string]types.AttributeValue{"pk": s("a"), "sk": n("1")})
	wantItem(t, got, map[string]types.AttributeValue{"pk": s("a"), "sk": n("1"), "v": s("one")})
}

func TestConditionalWrites(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	createTable(t, c, "cond", false)
	create := &awsddb.PutItemInput{
		TableName: aws.String("cond"), Item: map[string]types.AttributeValue{"pk": s("k"), "status": s("OK"), "n": n("9")},
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": "pk"},
	}
	if _, err := c.PutItem(ctx, create); err != nil {
		t.Fatalf("first conditional put: %v", err)
	}
	_, err := c.PutItem(ctx, create)
	var failed *types.ConditionalCheckFailedException
	if !errors.As(err, &failed) || aws.ToString(failed.Message) != "The conditional request failed" || failed.Item != nil {
		t.Fatalf("second conditional put: %v", err)
	}
	create.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	_, err = c.PutItem(ctx, create)
	if !errors.As(err, &failed) {
		t.Fatalf("conditional put with ALL_OLD: %v", err)
	}
	wantItem(t, failed.Item, map[string]types.AttributeValue{"pk": s("k"), "status": s("OK"), "n": n("9")})

	// = and < (numbers by value: 9 < 10, though "9" > "10" as strings) joined by AND.
	cases := []struct {
		cond  string
		holds bool
	}{
		{"#s = :ok", true},
		{"#s = :down", false},
		{"#n < :ten", true},
		{":ten < #n", false},
		{"#s < :p", true}, // "OK" < "P"
		{"attribute_exists(#n) AND #s = :ok AND #n < :ten", true},
		{"attribute_exists(#n) AND #s = :down", false},
		{"attribute_not_exists(#missing)", true},
		{"#missing = :ok", false},
		{"#missing < :ten", false},
		{"#s < :ten", false}, // different types never compare
	}
	for _, tc := range cases {
		t.Run(tc.cond, func(t *testing.T) {
			// The names and values the condition refers to (DynamoDB refuses unused ones).
			names := map[string]string{}
			for _, ref := range regexp.MustCompile(`#\w+`).FindAllString(tc.cond, -1) {
				names[ref] = map[string]string{"#s": "status", "#n": "n", "#missing": "missing"}[ref]
			}
			values := map[string]types.AttributeValue{}
			for _, ref := range regexp.MustCompile(`:\w+`).FindAllString(tc.cond, -1) {
				values[ref] = map[string]types.AttributeValue{":ok": s("OK"), ":down": s("DOWN"), ":ten": n("10"), ":p": s("P")}[ref]
			}
			in := &awsddb.UpdateItemInput{
				TableName: aws.String("cond"), Key: key("k"), ConditionExpression: aws.String(tc.cond),
				ExpressionAttributeNames: names,
			}
			if len(values) > 0 {
				in.ExpressionAttributeValues = values
			}
			_, err := c.UpdateItem(ctx, in)
			if tc.holds && err != nil {
				t.Fatalf("condition should hold: %v", err)
			}
			if !tc.holds && !errors.As(err, &failed) {
				t.Fatalf("condition should fail: %v", err)
			}
		})
	}

	// DeleteItem's condition guards the delete.
	_, err = c.DeleteItem(ctx, &awsddb.DeleteItemInput{TableName: aws.String("cond"), Key: key("k"),
		ConditionExpression: aws.String("#s = :down"), ExpressionAttributeNames: map[string]string{"#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":down": s("DOWN")}})
	if !errors.As(err, &failed) || get(t, c, "cond", key("k")) == nil {
		t.Fatalf("a failed conditional delete: %v", err)
	}
}

func TestUpdateExpressions(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	createTable(t, c, "upd", false)
	update := func(expr string, rv types.ReturnValue, names map[string]string, values map[string]types.AttributeValue) map[string]types.AttributeValue {
		t.Helper()
		out, err := c.UpdateItem(ctx, &awsddb.UpdateItemInput{
			TableName: aws.String("upd"), Key: key("w"), UpdateExpression: aws.String(expr), ReturnValues: rv,
			ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		})
		if err != nil {
			t.Fatalf("UpdateItem %q: %v", expr, err)
		}
		return out.Attributes
	}
	names := map[string]string{"#start": "windowStart", "#count": "count"}
	// The first update makes the item: if_not_exists takes the default, ADD starts from zero.
	got := update("SET #start = if_not_exists(#start, :now) ADD #count :one", types.ReturnValueAllNew, names,
		map[string]types.AttributeValue{":now": n("100"), ":one": n("1")})
	wantItem(t, got, map[string]types.AttributeValue{"pk": s("w"), "windowStart": n("100"), "count": n("1")})
	// The second keeps the start and counts on; UPDATED_OLD returns what the update changed, as it was.
	got = update("SET #start = if_not_exists(#start, :now) ADD #count :one", types.ReturnValueUpdatedOld, names,
		map[string]types.AttributeValue{":now": n("200"), ":one": n("1")})
	wantItem(t, got, map[string]types.AttributeValue{"windowStart": n("100"), "count": n("1")})
	got = update("SET #count = #count + :half, #start = :now", types.ReturnValueUpdatedNew, names,
		map[string]types.AttributeValue{":now": n("300"), ":half": n("0.5")})
	wantItem(t, got, map[string]types.AttributeValue{"windowStart": n("300"), "count": n("2.5")})
	got = update("set #count = :ten - #count", types.ReturnValueAllOld, map[string]string{"#count": "count"},
		map[string]types.AttributeValue{":ten": n("10")})
	wantItem(t, got, map[string]types.AttributeValue{"pk": s("w"), "windowStart": n("300"), "count": n("2.5")})
	wantItem(t, get(t, c, "upd", key("w")), map[string]types.AttributeValue{"pk": s("w"), "windowStart": n("300"), "count": n("7.5")})
	// An update that changes nothing that existed returns no Attributes for UPDATED_OLD.
	if got := update("SET #new = :v", types.ReturnValueUpdatedOld, map[string]string{"#new": "new"}, map[string]types.AttributeValue{":v": s("x")}); got != nil {
		t.Fatalf("UPDATED_OLD of a new attribute: %v", render(got))
	}
	// An update with a condition on a missing item creates nothing when the condition fails.
	_, err := c.UpdateItem(ctx, &awsddb.UpdateItemInput{
		TableName: aws.String("upd"), Key: key("absent"), UpdateExpression: aws.String("SET #v = :v"),
		ConditionExpression:      aws.String("attribute_exists(#v)"),
		ExpressionAttributeNames: map[string]string{"#v": "v"}, ExpressionAttributeValues: map[string]types.AttributeValue{":v": s("x")},
	})
	var failed *types.ConditionalCheckFailedException
	if !errors.As(err, &failed) || get(t, c, "upd", key("absent")) != nil {
		t.Fatalf("conditional update of a missing item: %v", err)
	}
}

// TestValidation holds the service to AWS's ValidationException messages for mistakes a client
// makes, and to loud refusals of what the sandbox does not implement.
func TestValidation(t *testing.T) {
	c := newClient(t)
	ctx := context.Background()
	createTable(t, c, "vals", false)
	put(t, c, "vals", map[string]types.AttributeValue{"pk": s("k"), "text": s("x")})
	tbl := aws.String("vals")
	type call func() error
	upd := func(expr string, names map[string]string, values map[string]types.AttributeValue) call {
		return func() error {
			_, err := c.UpdateItem(ctx, &awsddb.UpdateItemInput{TableName: tbl, Key: key("k"), UpdateExpression: aws.String(expr),
				ExpressionAttributeNames: names, ExpressionAttributeValues: values})
			return err
		}
	}
	cond := func(expr string, names map[string]string, values map[string]types.AttributeValue) call {
		return func() error {
			_, err := c.PutItem(ctx, &awsddb.PutItemInput{TableName: tbl, Item: key("k"), ConditionExpression: aws.String(expr),
				ExpressionAttributeNames: names, ExpressionAttributeValues: values})
			return err
		}
	}
	putItem := func(it map[string]types.AttributeValue) call {
		return func() error {
			_, err := c.PutItem(ctx, &awsddb.PutItemInput{TableName: tbl, Item: it})
			return err
		}
	}
	a := map[string]string{"#a": "a"}
	one := map[string]types.AttributeValue{":one": n("1")}
	cases := []sandboxtest.ErrorCase[call]{
		{Name: "key of the wrong type", In: func() error {
			_, err := c.GetItem(ctx, &awsddb.GetItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"pk": n("1")}})
			return err
		}, Want: "The provided key element does not match the schema"},
		{Name: "key with an extra attribute", In: func() error {
			_, err := c.DeleteItem(ctx, &awsddb.DeleteItemInput{TableName: tbl, Key: map[string]types.AttributeValue{"pk": s("k"), "x": s("y")}})
			return err
		}, Want: "The provided key element does not match the schema"},
		{Name: "item without its key", In: putItem(map[string]types.AttributeValue{"other": s("x")}), Want: "One or more parameter values were invalid: Missing the key pk in the item"},
		{Name: "item key of the wrong type", In: putItem(map[string]types.AttributeValue{"pk": n("1")}), Want: "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"},
		{Name: "empty key", In: putItem(map[string]types.AttributeValue{"pk": s("")}), Want: "The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"},
		{Name: "not a number", In: putItem(map[string]types.AttributeValue{"pk": s("k"), "n": n("twelve")}), Want: "The parameter cannot be converted to a numeric value: twelve"},
		{Name: "39 digits", In: putItem(map[string]types.AttributeValue{"pk": s("k"), "n": n(strings.Repeat("7", 39))}), Want: "Attempting to store more than 38 significant digits in a Number"},
		{Name: "item over 400 KB", In: putItem(map[string]types.AttributeValue{"pk": s("k"), "blob": s(strings.Repeat("x", 400*1024))}), Want: "Item size has exceeded the maximum allowed size"},
		{Name: "list attribute", In: putItem(map[string]types.AttributeValue{"pk": s("k"), "l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("x")}}}), Want: "supports attribute types S, N, BOOL and M, not L"},
		{Name: "unused name", In: upd("SET #a = :one", map[string]string{"#a": "a", "#b": "b"}, one), Want: "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b}"},
		{Name: "unused value on PutItem", In: cond("attribute_not_exists(#a)", a, one), Want: "1 validation error detected: Value provided in ExpressionAttributeValues unused in expressions: keys: {:one}"},
		{Name: "undefined name", In: upd("SET #b = :one", a, one), Want: "Invalid UpdateExpression: An expression attribute name used in the document path is not defined; attribute name: #b"},
		{Name: "undefined value", In: cond("#a = :two", a, one), Want: "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :two"},
		{Name: "names without an expression", In: func() error {
			_, err := c.PutItem(ctx, &awsddb.PutItemInput{TableName: tbl, Item: key("k"), ExpressionAttributeNames: a})
			return err
		}, Want: "ExpressionAttributeNames can only be specified when using expressions"},
		{Name: "syntax error", In: upd("SET #a = = :one", a, one), Want: `Invalid UpdateExpression: Syntax error; token: "=", near: "= ="`},
		{Name: "empty expression", In: upd("  ", nil, nil), Want: "Invalid UpdateExpression: The expression can not be empty;"},
		{Name: "update of the key", In: upd("SET #pk = :v", map[string]string{"#pk": "pk"}, map[string]types.AttributeValue{":v": s("x")}), Want: "Cannot update attribute pk. This attribute is part of the key"},
		{Name: "overlapping paths", In: upd("SET #a = :one ADD #a :one", a, one), Want: "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"},
		{Name: "ADD of a string", In: upd("ADD #a :s", a, map[string]types.AttributeValue{":s": s("x")}), Want: "Incorrect operand type for operator or function; operator: ADD, operand type: STRING"},
		{Name: "ADD to a string attribute", In: upd("ADD #t :one", map[string]string{"#t": "text"}, one), Want: "An operand in the update expression has an incorrect data type"},
		{Name: "SET from a missing attribute", In: upd("SET #a = #b", map[string]string{"#a": "a", "#b": "b"}, nil), Want: "The provided expression refers to an attribute that does not exist in the item"},
		{Name: "PutItem returning new values", In: func() error {
			_, err := c.PutItem(ctx, &awsddb.PutItemInput{TableName: tbl, Item: key("k"), ReturnValues: types.ReturnValueUpdatedNew})
			return err
		}, Want: "ReturnValues can only be ALL_OLD or NONE"},
		// What the sandbox does not implement is refused by name.
		{Name: "OR", In: cond("attribute_exists(#a) OR attribute_not_exists(#a)", a, nil), Want: "does not support OR"},
		{Name: "a comparator other than = and <", In: cond("#a >= :one", a, one), Want: "does not support the comparator >="},
		{Name: "a bare attribute name", In: cond("attribute_exists(status)", nil, nil), Want: `does not support the attribute name "status" written in the expression`},
		{Name: "REMOVE", In: upd("REMOVE #a", a, nil), Want: "does not support the REMOVE clause"},
		{Name: "a nested path", In: upd("SET #a.#b = :one", map[string]string{"#a": "a", "#b": "b"}, one), Want: "does not support nested attribute paths"},
		{Name: "ProjectionExpression", In: func() error {
			_, err := c.GetItem(ctx, &awsddb.GetItemInput{TableName: tbl, Key: key("k"), ProjectionExpression: aws.String("#a"), ExpressionAttributeNames: a})
			return err
		}, Want: "does not support ExpressionAttributeNames, ProjectionExpression in this operation"},
		{Name: "consumed capacity", In: func() error {
			_, err := c.GetItem(ctx, &awsddb.GetItemInput{TableName: tbl, Key: key("k"), ReturnConsumedCapacity: types.ReturnConsumedCapacityTotal})
			return err
		}, Want: "ReturnConsumedCapacity must be NONE"},
	}
	sandboxtest.WantErrors(t, cases, func(t *testing.T, f call) error {
		err := f()
		if err != nil {
			sandboxtest.WantCode(t, err, "ValidationException")
		}
		return err
	})
	// None of the refused writes changed the item.
	wantItem(t, get(t, c, "vals", key("k")), map[string]types.AttributeValue{"pk": s("k"), "text": s("x")})
}

// TestConcurrentConditionalPuts: of N writers racing to create one item with
// attribute_not_exists, exactly one succeeds.
func TestConcurrentConditionalPuts(t *testing.T) {
	c := newClient(t)
	createTable(t, c, "race", false)
	const writers = 16
	var wg sync.WaitGroup
	results := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, err := c.PutItem(context.Background(), &awsddb.PutItemInput{
				TableName: aws.String("race"), Item: map[string]types.AttributeValue{"pk": s("once"), "writer": n(fmt.Sprint(i))},
				ConditionExpression: aws.String("attribute_not_exists(#pk)"), ExpressionAttributeNames: map[string]string{"#pk": "pk"},
			})
			results <- err
		})
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		var failed *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			won++
		case !errors.As(err, &failed):
			t.Errorf("a writer failed otherwise: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers created the item, want exactly 1", won)
	}
}
