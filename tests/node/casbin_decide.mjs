// Decide Casbin requests with node-casbin, as policy authors' own tools do.
//
//   node casbin_decide.mjs MODEL.conf POLICY.csv < requests.json
//
// stdin: a JSON array of requests, each an array of request values (["root:full",
// "key.read", "team"]). stdout: a JSON array, one answer per request, in order:
// {"allowed": true, "rule": ["root:full", "*", "team"]} (rule: the matched policy line, or
// []), or {"error": "..."} when node-casbin throws on that request. Nothing is registered:
// the model must get by with Casbin's built-in functions.
import { readFileSync } from 'node:fs';
import { newEnforcer } from 'casbin';

const [modelPath, policyPath] = process.argv.slice(2);
if (!modelPath || !policyPath) {
  process.stderr.write('usage: node casbin_decide.mjs MODEL.conf POLICY.csv < requests.json\n');
  process.exit(2);
}

const requests = JSON.parse(readFileSync(0, 'utf8'));
const enforcer = await newEnforcer(modelPath, policyPath);
const answers = [];
for (const request of requests) {
  try {
    const [allowed, rule] = await enforcer.enforceEx(...request);
    answers.push({ allowed, rule });
  } catch (error) {
    answers.push({ error: String(error && error.message ? error.message : error) });
  }
}
process.stdout.write(JSON.stringify(answers) + '\n');
