// Times Cedar's reference engine (@cedar-policy/cedar-wasm) on the requests
// bench_policy wrote, for the ratio bench_policy prints. Prints one JSON line:
// {"p50_us", "p99_us", "per_s", "allow"}. Usage:
//   node bench_wasm.mjs <node_modules dir> <case.json> <seconds>
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const [modules, casePath, seconds] = process.argv.slice(2);
const require = createRequire(modules + '/');
const cedar = require('@cedar-policy/cedar-wasm/nodejs');
const c = JSON.parse(readFileSync(casePath, 'utf8'));
const policies = { staticPolicies: c.policies };

function decide(r) {
  const a = cedar.isAuthorized({
    principal: r.principal, action: r.action, resource: r.resource,
    context: r.context, policies, entities: c.entities,
  });
  if (a.type !== 'success') throw new Error(JSON.stringify(a.errors));
  return a.response.decision === 'allow';
}

for (let i = 0; i < 20; i++) decide(c.requests[i % c.requests.length]);
const budget = Number(seconds) * 1e9;
const times = [];
let allow = 0;
const start = process.hrtime.bigint();
for (let i = 0; ; i++) {
  const a = process.hrtime.bigint();
  allow += decide(c.requests[i % c.requests.length]) ? 1 : 0;
  const b = process.hrtime.bigint();
  times.push(Number(b - a));
  if (Number(b - start) > budget && times.length >= 20) break;
}
const total = Number(process.hrtime.bigint() - start) / 1e9;
times.sort((x, y) => x - y);
console.log(JSON.stringify({
  n: times.length,
  p50_us: times[Math.floor(times.length / 2)] / 1000,
  p99_us: times[Math.floor(times.length * 0.99)] / 1000,
  per_s: times.length / total,
  allow: allow / times.length,
}));
