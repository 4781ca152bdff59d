/**
 * Runs after tsup. The declarations of hoard/http import the types of Fastify and Hono, which are
 * optional peer dependencies: a project that uses only Node `http` or Express has neither, and with
 * `skipLibCheck: false` tsc would fail on those imports ("Cannot find module 'fastify'"). Each such
 * import gets a `@ts-ignore`, so that without the framework its types are `any` (only in the
 * adapter that project does not use), and with it installed they are the framework's own.
 */
/* global console */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const OPTIONAL_PEERS = ['fastify', 'hono'];
const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const importOf = new RegExp(`^import [^;]* from '(?:${OPTIONAL_PEERS.join('|')})(?:/[^']*)?';$`);

let patched = 0;
for (const name of await readdir(dist)) {
  if (!/\.d\.c?ts$/.test(name)) continue;
  const file = path.join(dist, name);
  const lines = (await readFile(file, 'utf8')).split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    if (importOf.test(lines[i]) && !(lines[i - 1] ?? '').startsWith('// @ts-ignore')) {
      out.push('// @ts-ignore -- optional peer dependency: its types are `any` where it is not installed');
      patched++;
    }
    out.push(lines[i]);
  }
  await writeFile(file, out.join('\n'));
}
if (patched === 0) throw new Error(`no import of ${OPTIONAL_PEERS.join(' or ')} found in dist/*.d.ts: has the build changed?`);
console.log(`optional peer types: ${patched} imports marked`);
