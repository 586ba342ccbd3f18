// Package dynamodb is the sandbox's Amazon DynamoDB over its JSON 1.0 wire protocol (X-Amz-Target
// DynamoDB_20120810.<Operation>): tables with a partition key and an optional sort key, and the
// single-item reads and conditional writes Strongroom's alert state (pkg/alertstate) makes.
//
// Operations: CreateTable (KeySchema, AttributeDefinitions, BillingMode PROVISIONED with
// ProvisionedThroughput or PAY_PER_REQUEST, SSESpecification), DescribeTable, DeleteTable,
// UpdateTimeToLive, DescribeTimeToLive, GetItem, PutItem, UpdateItem, DeleteItem.
//
// Behaviour follows the DynamoDB API reference and Developer Guide, with AWS's exception names
// and message shapes: ResourceNotFoundException ("Requested resource not found", naming the table
// for DescribeTable and DeleteTable), ResourceInUseException for a second CreateTable of a name,
// ConditionalCheckFailedException ("The conditional request failed", carrying the item when
// ReturnValuesOnConditionCheckFailure is ALL_OLD), and ValidationException for a key that does
// not match the schema, a missing or mistyped key in an item, an empty string key, unused or
// undefined expression attribute names and values, a syntax error in an expression, an update
// of a key attribute, overlapping update paths, ADD or + on a non-number, a ReturnValues that
// the operation does not take (PutItem and DeleteItem: NONE and ALL_OLD only), numbers beyond 38
// digits or DynamoDB's range, and items over 400 KB. Numbers are returned in DynamoDB's canonical
// form ("1.50" reads back as "1.5"). Conditional writes are atomic: one lock orders all operations.
//
// What the sandbox does not do is refused loudly, with a ValidationException that names it, so
// that code which works here does not depend on something unemulated:
//   - attribute types other than S, N, BOOL and M (B, SS, NS, BS, L, NULL), and B keys;
//   - request members it does not implement (for example ProjectionExpression, the legacy
//     Expected and AttributeUpdates, Tags, indexes, streams; ReturnConsumedCapacity other than
//     NONE), named in the message;
//   - expressions beyond the subset expr.go states: conditions of attribute_exists,
//     attribute_not_exists, = and < joined by AND; updates of SET (with if_not_exists, + and -)
//     and ADD of numbers; operands that are #names (top-level attributes) and :values. Attribute
//     names written bare in an expression are refused, so that no DynamoDB reserved word can
//     pass here and fail on AWS.
//
// Known differences from AWS:
//   - Tables are usable at once: CreateTable answers CREATING, as AWS does, but DescribeTable
//     already says ACTIVE; DeleteTable answers DELETING and the table is gone.
//   - Time to live is recorded and reported (DescribeTimeToLive says ENABLED at once, never
//     ENABLING) but expired items are never deleted. AWS deletes them within days of expiry and
//     reads still return them until then, so correct code filters on the attribute itself.
//   - Encryption is reported (SSEDescription with the key's ARN), not performed, and the key
//     is not checked against KMS.
//   - Every read is strongly consistent; there is no capacity accounting or throttling except
//     injected faults (whose internal error is InternalServerError); ItemCount and
//     TableSizeBytes are live rather than updated every six hours, and item sizes follow the
//     documented accounting approximately.
package dynamodb
