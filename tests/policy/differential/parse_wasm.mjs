// Asks Cedar's reference parser (@cedar-policy/cedar-wasm) whether each
// policy text parses. Usage: node parse_wasm.mjs <node_modules dir> texts.json out.json
// texts: ["permit(...);", ...]  out: [true, false, ...]
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const [modules, textsPath, outPath] = process.argv.slice(2);
const require = createRequire(modules + '/');
const cedar = require('@cedar-policy/cedar-wasm/nodejs');
const texts = JSON.parse(readFileSync(textsPath, 'utf8'));
const out = texts.map((text) =>
  cedar.checkParsePolicySet({ staticPolicies: { p: text } }).type === 'success');
writeFileSync(outPath, JSON.stringify(out));
