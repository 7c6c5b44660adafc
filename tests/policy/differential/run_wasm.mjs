// Decides every request of a cases file with Cedar's reference engine
// (@cedar-policy/cedar-wasm, installed into the build tree by the test) and
// writes the answers. Usage: node run_wasm.mjs <node_modules dir> cases.json answers.json
// cases: [{policies: {id: text}, entities: [...], requests: [{principal, action, resource, context}],
//          schema?: "Cedar schema text"}]
// answers: [[{decision, reason: [...], errors: [...]} | {failure: "..."}]]
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const [modules, casesPath, answersPath] = process.argv.slice(2);
const require = createRequire(modules + '/');
const cedar = require('@cedar-policy/cedar-wasm/nodejs');

const cases = JSON.parse(readFileSync(casesPath, 'utf8'));
const out = cases.map((c) => c.requests.map((r) => {
  const answer = cedar.isAuthorized({
    principal: r.principal,
    action: r.action,
    resource: r.resource,
    context: r.context,
    policies: { staticPolicies: c.policies },
    entities: c.entities,
    ...(c.schema ? { schema: c.schema, validateRequest: false } : {}),
  });
  if (answer.type !== 'success') {
    return { failure: answer.errors.map((e) => e.message).join('; ') };
  }
  const d = answer.response;
  return {
    decision: d.decision,
    reason: d.diagnostics.reason,
    errors: d.diagnostics.errors.map((e) => e.policyId),
  };
}));
writeFileSync(answersPath, JSON.stringify(out));
