// Evaluates a flagd flag-definition file with flagd's own evaluator (the npm
// @openfeature/flagd-core package, as scripts/deps/flagd-core.sh installs it), for
// tests/it/flags/flagd_eval.rs. Usage:
//   FLAGD_CORE_DIR=target/flagd-core node flagd-eval.mjs FILE FLAG USERS [GROUP]
// evaluates FLAG for targeting keys user-0 .. user-(USERS-1), each in GROUP when given,
// and prints one JSON object: {"values": [true, false, ...], "reasons": {...}}.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [file, flag, users, group] = process.argv.slice(2);
const dir = process.env.FLAGD_CORE_DIR;
if (!file || !flag || !users || !dir) {
    console.error('usage: FLAGD_CORE_DIR=... node flagd-eval.mjs FILE FLAG USERS [GROUP]');
    process.exit(2);
}
const entry = path.join(dir, 'node_modules', '@openfeature', 'flagd-core', 'index.cjs.mjs');
const { FlagdCore } = await import(pathToFileURL(entry).href);

const core = new FlagdCore();
core.setConfigurations(readFileSync(file, 'utf8'));
const values = [];
const reasons = {};
for (let i = 0; i < Number(users); i++) {
    const context = { targetingKey: `user-${i}` };
    if (group) {
        context.groups = [group];
    }
    let value;
    let reason;
    try {
        const resolved = core.resolveBooleanEvaluation(flag, false, context, console);
        value = resolved.value;
        reason = resolved.reason;
    } catch (error) {
        // flagd answers a disabled flag with an error; the SDK then serves the default.
        value = false;
        reason = `error: ${error.code ?? error.name}`;
    }
    values.push(value);
    reasons[reason] = (reasons[reason] ?? 0) + 1;
}
console.log(JSON.stringify({ values, reasons }));
