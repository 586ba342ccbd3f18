// Runs the ASL conformance corpus through aws-local-stepfunctions, an independent interpreter,
// with the same task stand-ins the Go test uses. Input on stdin: {"cases": [...]}; output on
// stdout: {"results": {"<case>": {"output": ...} | {"error": "...", "cause": "..."}}}.
// Usage: node run-corpus.mjs <path to aws-local-stepfunctions/build/main.node.esm.js>
import { pathToFileURL } from 'node:url';

const lib = await import(pathToFileURL(process.argv[2]).href);
const { StateMachine, ExecutionTimeoutError, ExecutionError } = lib;

const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const { cases } = JSON.parse(Buffer.concat(chunks).toString('utf8'));

const sleep = (s) => new Promise((resolve) => setTimeout(resolve, s * 1000).unref());

// The lambda:invoke integration's result, with the fixed metadata the Go test also uses.
function invokeWrapper(payload) {
  return { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
}

// walk visits every state of a definition, nested ones included.
function walk(def, visit) {
  for (const [name, st] of Object.entries(def.States ?? {})) {
    visit(name, st);
    for (const b of st.Branches ?? []) walk(b, visit);
    if (st.ItemProcessor) walk(st.ItemProcessor, visit);
    if (st.Iterator) walk(st.Iterator, visit);
  }
}

async function runCase(c) {
  const calls = {};
  const handlers = {};
  const waits = {};
  const retries = {};
  walk(c.definition, (name, st) => {
    if (st.Type === 'Wait' && !c.realWaits) waits[name] = 0;
    if (st.Retry) retries[name] = 0;
    if (st.Type !== 'Task') return;
    const integration = st.Resource.endsWith(':::lambda:invoke');
    handlers[name] = async (input) => {
      const key = integration ? input.FunctionName : st.Resource;
      const payload = integration ? input.Payload : input;
      const script = (c.tasks ?? {})[key];
      if (!script) {
        const e = new Error(`no stand-in for ${key}`);
        e.name = 'Sandbox.NoStandIn';
        throw e;
      }
      const n = calls[key] ?? 0;
      calls[key] = n + 1;
      const step = script[Math.min(n, script.length - 1)];
      if (step.sleepSeconds) await sleep(step.sleepSeconds);
      if (step.error !== undefined) {
        const e = new Error(step.cause ?? '');
        e.name = step.error;
        throw e;
      }
      let result = step.echo ? payload : step.result;
      if (step.resultStringBytes) result = 'x'.repeat(step.resultStringBytes);
      return integration ? invokeWrapper(result) : result;
    };
  });
  let sm;
  try {
    sm = new StateMachine(c.definition, { validationOptions: { checkArn: true, checkPaths: true } });
  } catch (err) {
    return { error: 'Validation', cause: String(err.message ?? err) };
  }
  const exec = sm.run(c.input, {
    overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits, retryIntervalOverrides: retries },
    context: c.context,
  });
  try {
    return { output: await exec.result };
  } catch (err) {
    if (err instanceof ExecutionTimeoutError) return { error: 'States.Timeout', cause: err.message };
    if (err instanceof ExecutionError && err.cause) return { error: err.cause.name, cause: err.cause.message };
    return { error: 'Runner.' + (err.name ?? 'Error'), cause: String(err.message ?? err) };
  }
}

// Cases are independent (each counts its own stand-in calls), so they run concurrently: the few
// that wait for a real timeout overlap instead of adding up.
const results = {};
await Promise.all(
  cases.map(async (c) => {
    try {
      results[c.name] = await runCase(c);
    } catch (err) {
      results[c.name] = { error: 'Runner.' + (err.name ?? 'Error'), cause: String(err.message ?? err) };
    }
  }),
);
process.stdout.write(JSON.stringify({ results }));
