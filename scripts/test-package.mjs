#!/usr/bin/env node
// Checks the built package as its users get it: `hoard` imported by name through the `exports`
// map, from ESM and from CommonJS. Run after `npm run build` (`npm run test:package`).
// Prints one line per check and ends with "N passed, M failed"; exits non-zero on any failure.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import process from 'node:process';
import console from 'node:console';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8'));
const require = createRequire(import.meta.url);

let passed = 0;
let failed = 0;

/** Runs one check: a function that returns nothing (pass) or throws (fail, with the reason). */
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (error) {
    failed++;
    const reason = error instanceof Error ? error.message : String(error);
    console.log(`FAIL ${name}\n     ${reason.split('\n').join('\n     ')}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

/** Every file target of an `exports` value, with the conditions that lead to it. */
function targets(value, path = []) {
  if (typeof value === 'string') return [{ path, target: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => targets(v, [...path, String(i)]));
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => targets(v, [...path, k]));
  return [];
}

/** Names exported by a module namespace or a CommonJS exports object, sorted. */
function exportNames(moduleOrExports) {
  return Object.keys(moduleOrExports)
    .filter((name) => name !== 'default' && name !== '__esModule' && name !== 'module.exports')
    .sort();
}

const name = pkg.name;
let esm;
let cjs;

await check(`package.json names the package and has an exports map (${String(name)})`, () => {
  assert(typeof name === 'string' && name.length > 0, 'package.json has no name');
  assert(pkg.exports !== null && typeof pkg.exports === 'object', 'package.json has no exports map');
  assert(pkg.exports['.'] !== undefined, 'the exports map has no "." entry');
});

await check('every target of the exports map is an existing file', () => {
  const all = Object.entries(pkg.exports).flatMap(([subpath, value]) => targets(value, [subpath]));
  assert(all.length > 0, 'no targets in the exports map');
  const missing = all.filter(({ target }) => !existsSync(resolve(root, target)));
  assert(missing.length === 0, `missing: ${missing.map(({ path, target }) => `${path.join(' > ')} -> ${target}`).join(', ')}`);
});

await check('the types of both conditions exist (.d.ts for import, .d.cts for require)', () => {
  const dot = pkg.exports['.'];
  const importTypes = dot?.import?.types;
  const requireTypes = dot?.require?.types;
  assert(typeof importTypes === 'string' && importTypes.endsWith('.d.ts'), `import types: ${String(importTypes)}`);
  assert(typeof requireTypes === 'string' && requireTypes.endsWith('.d.cts'), `require types: ${String(requireTypes)}`);
  for (const file of [importTypes, requireTypes, pkg.types]) {
    if (file === undefined) continue;
    assert(existsSync(resolve(root, file)), `${file} does not exist`);
    assert(/\bcreateCache\b/.test(readFileSync(resolve(root, file), 'utf8')), `${file} does not declare createCache`);
  }
  // "types" must come first in each condition object, or TypeScript never reads it.
  for (const condition of ['import', 'require']) {
    assert(Object.keys(dot[condition])[0] === 'types', `"types" is not the first key of exports["."].${condition}`);
  }
});

await check('every subpath of the exports map resolves by name from ESM and CommonJS', async () => {
  for (const subpath of Object.keys(pkg.exports)) {
    const specifier = subpath === '.' ? name : `${name}/${subpath.slice(2)}`;
    if (subpath.includes('*')) continue;
    const viaImport = fileURLToPath(import.meta.resolve(specifier));
    const viaRequire = require.resolve(specifier);
    assert(existsSync(viaImport), `import.meta.resolve('${specifier}') -> ${viaImport} does not exist`);
    assert(existsSync(viaRequire), `require.resolve('${specifier}') -> ${viaRequire} does not exist`);
    assert(viaImport.startsWith(root) && viaRequire.startsWith(root), `${specifier} resolves outside the package`);
  }
});

await check(`await import('${name}') loads the ESM build`, async () => {
  esm = await import(name);
  const file = fileURLToPath(import.meta.resolve(name));
  assert(file.endsWith('.js') && !file.endsWith('.cjs'), `import resolves to ${file}`);
  assert(typeof esm.createCache === 'function', 'no createCache export');
});

await check(`require('${name}') loads the CommonJS build`, () => {
  cjs = require(name);
  const file = require.resolve(name);
  assert(file.endsWith('.cjs'), `require resolves to ${file}`);
  assert(typeof cjs.createCache === 'function', 'no createCache export');
  assert(cjs !== esm, 'require returned the ESM namespace');
  assert(cjs.createCache !== esm?.createCache, 'both builds share one createCache: the CommonJS build is not separate');
});

await check('both builds export exactly the same names', () => {
  assert(esm !== undefined && cjs !== undefined, 'a build did not load');
  const a = exportNames(esm);
  const b = exportNames(cjs);
  const onlyEsm = a.filter((n) => !b.includes(n));
  const onlyCjs = b.filter((n) => !a.includes(n));
  assert(isDeepStrictEqual(a, b), `only in ESM: [${onlyEsm.join(', ')}]; only in CommonJS: [${onlyCjs.join(', ')}]`);
  for (const n of ['cache', 'createCache', 'memoryStore', 'cached', 'Cached', 'InvalidatesCache', 'EventInvalidator', 'CacheError', 'ConfigError']) {
    assert(a.includes(n), `${n} is not exported`);
  }
  for (const n of a) assert(typeof esm[n] === typeof cjs[n], `${n} is a ${typeof esm[n]} in ESM but a ${typeof cjs[n]} in CommonJS`);
});

await check('the default cache is one instance across the two builds', async () => {
  assert(esm !== undefined && cjs !== undefined, 'a build did not load');
  const key = `test-package:${process.pid}:${Date.now()}`;
  await esm.cache.set(key, { from: 'esm' });
  const seen = await cjs.cache.get(key);
  assert(isDeepStrictEqual(seen, { from: 'esm' }), `the CommonJS cache read ${JSON.stringify(seen)}`);
  assert((await cjs.cache.delete(key)) === true, 'delete through CommonJS did not find the ESM entry');
  assert((await esm.cache.has(key)) === false, 'the ESM cache still has the entry deleted through CommonJS');
  const before = esm.cache.stats().hits;
  await cjs.cache.set(key, 1);
  await esm.cache.get(key);
  assert(cjs.cache.stats().hits === before + 1, 'the two builds see different stats');
  await esm.cache.delete(key);
});

/** The error `fn` throws or rejects with. */
async function caught(fn) {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

await check('an error thrown by one build matches instanceof and code of the other', async () => {
  assert(esm !== undefined && cjs !== undefined, 'a build did not load');
  const pairs = [
    ['CommonJS', 'ESM', cjs, esm],
    ['ESM', 'CommonJS', esm, cjs],
  ];
  for (const [fromName, toName, from, to] of pairs) {
    const config = await caught(() => from.parseDuration('5 parsecs', 'ttl'));
    assert(config instanceof from.ConfigError, `${fromName} ConfigError is not instanceof its own class`);
    assert(config instanceof to.ConfigError, `${fromName} ConfigError is not instanceof ${toName} ConfigError`);
    assert(config instanceof to.CacheError, `${fromName} ConfigError is not instanceof ${toName} CacheError`);
    assert(config instanceof Error, `${fromName} ConfigError is not an Error`);
    assert(!(config instanceof to.InvalidKeyError), `${fromName} ConfigError is instanceof ${toName} InvalidKeyError`);
    assert(config.code === 'HOARD_CONFIG' && config.code === new to.ConfigError('x', 'y').code, `code ${config.code}`);
    assert(config.option === 'ttl', `option ${config.option}`);

    const key = await caught(() => from.createCache({}, {}).get(''));
    assert(key instanceof to.InvalidKeyError, `${fromName} InvalidKeyError is not instanceof ${toName} InvalidKeyError`);
    assert(key instanceof to.CacheError, `${fromName} InvalidKeyError is not instanceof ${toName} CacheError`);
    assert(!(key instanceof to.ConfigError), `${fromName} InvalidKeyError is instanceof ${toName} ConfigError`);
    assert(key.code === 'HOARD_INVALID_KEY', `code ${key.code}`);

    const timeout = await caught(() => from.createCache({}, {}).getOrSet('slow', () => new Promise(() => {}), { timeout: { hard: 1 } }));
    assert(timeout instanceof to.CacheTimeoutError, `${fromName} CacheTimeoutError is not instanceof ${toName} CacheTimeoutError`);
    assert(timeout.code === 'HOARD_TIMEOUT', `code ${timeout.code}`);

    const plain = await caught(() => from.createCache({}, {}).set('k', undefined));
    assert(plain instanceof TypeError && !(plain instanceof to.CacheError), `a TypeError of ${fromName} is instanceof ${toName} CacheError`);
  }
});

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
