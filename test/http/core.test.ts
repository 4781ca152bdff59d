/**
 * The framework-free core on its own: option checking, keys, Cache-Control parsing, validators,
 * and the package boundary (hoard's core never imports the HTTP code or a web framework).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cache as defaultCache, ConfigError } from '../../src/index.js';
import { resetDefaultCache } from '../../src/cache/default-cache.js';
import { cachePrivate, cachePublic, cacheResponse } from '../../src/http/index.js';
import type { CacheResponseOptions } from '../../src/http/index.js';
import { matchesIfNoneMatch } from '../../src/http/entry.js';
import { normaliseAcceptEncoding, normaliseUrl, pageKey, urlTag, type RequestView } from '../../src/http/key.js';
import { parseCacheControl, servedCacheControl } from '../../src/http/policy.js';
import { guardProcess } from '../helpers/guard.js';
import { memoryCache, registerCleanup, request, startServer } from './support.js';

registerCleanup();
guardProcess();

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function view(url: string, headers: Record<string, string> = {}): RequestView {
  return { method: 'GET', url, header: (name) => headers[name] };
}

describe('options', () => {
  const bad: [string, Record<string, unknown>][] = [
    ['ttl', { ttl: '5 parsecs' }],
    ['ttl', { ttl: 0 }],
    ['grace', { grace: -1 }],
    ['vary', { vary: 'accept-language' }],
    ['vary', { vary: ['cookie'] }],
    ['vary', { vary: ['bad header'] }],
    ['statuses', { statuses: [206] }],
    ['statuses', { statuses: [] }],
    ['statuses', { statuses: [200.5] }],
    ['maxBodyBytes', { maxBodyBytes: 0 }],
    ['maxBodyBytes', { maxBodyBytes: '1mb' }],
    ['keyPrefix', { keyPrefix: 'a|b' }],
    ['cacheControl', { cacheControl: '' }],
    ['cacheControl', { cacheControl: 'max-age=1\r\nX: y' }],
    ['uncacheableTtl', { uncacheableTtl: Number.NaN }],
    ['waitTimeout', { waitTimeout: '1 week' }],
    ['clock', { clock: {} }],
    ['condition', { condition: true }],
    ['tags', { tags: ['a'] }],
    ['identity', { identity: 'users' }],
    ['cache', { cache: {} }],
    ['tll', { tll: '1m' }],
  ];
  for (const [option, given] of bad) {
    it(`${JSON.stringify(given)} throws ConfigError naming ${option}`, () => {
      assert.throws(
        () => cacheResponse(given as CacheResponseOptions),
        (error: unknown) => error instanceof ConfigError && error.option === option && error.message.startsWith(`${option}:`),
      );
    });
  }

  it('cachePublic and cachePrivate check their TTL', () => {
    assert.throws(() => cachePublic('5 parsecs' as never), (e: unknown) => e instanceof ConfigError && e.option === 'ttl');
    assert.throws(() => cachePrivate(-5), (e: unknown) => e instanceof ConfigError && e.option === 'ttl');
  });

  it('creating a middleware does not create the default cache (the environment is read at first use)', () => {
    const previous = process.env.CACHE_MAXSIZE;
    process.env.CACHE_MAXSIZE = 'lots';
    try {
      assert.doesNotThrow(() => cacheResponse());
    } finally {
      if (previous === undefined) delete process.env.CACHE_MAXSIZE;
      else process.env.CACHE_MAXSIZE = previous;
    }
  });
});

describe('keys', () => {
  it('sorts query parameters by name and keeps everything else as sent', () => {
    assert.equal(normaliseUrl('/a?b=2&a=1'), '/a?a=1&b=2');
    assert.equal(normaliseUrl('/a?x=2&x=1&a'), '/a?a&x=2&x=1');
    assert.equal(normaliseUrl('/a?'), '/a');
    assert.equal(normaliseUrl('/a?&&'), '/a');
    assert.equal(normaliseUrl('/a?q=%20+x'), '/a?q=%20+x');
    assert.equal(normaliseUrl('/A/b/'), '/A/b/');
    assert.equal(normaliseAcceptEncoding('GZIP, br ;q=0.5'), 'gzip,br;q=0.5');
  });

  it('components cannot smuggle a separator into another page key', () => {
    const keyed = ['x-forwarded-host'];
    const a = pageKey('http:', view('/p', { host: 'h', 'accept-encoding': 'gzip|x-forwarded-host=evil' }), keyed, undefined);
    const b = pageKey('http:', view('/p', { host: 'h', 'accept-encoding': 'gzip', 'x-forwarded-host': 'evil' }), keyed, undefined);
    assert.notEqual(a, b);
    const c = pageKey('http:', view('/p|x', { host: 'h' }), [], undefined);
    const d = pageKey('http:', view('/p%7Cx', { host: 'h' }), [], undefined);
    assert.notEqual(c, d);
    assert.notEqual(pageKey('http:', view('/p'), [], 'abc'), pageKey('http:', view('/p'), [], undefined), 'private and shared pages never share a key');
  });

  it('hashes keys and tags of very long URLs to stay within the cache limit', () => {
    const url = `/search?q=${'x'.repeat(3000)}`;
    const key = pageKey('http:', view(url, { host: 'h' }), [], undefined);
    assert.ok(Buffer.byteLength(key) <= 1024, `key of ${Buffer.byteLength(key)} bytes`);
    assert.match(key, /^http:GET#/);
    assert.ok(Buffer.byteLength(urlTag('h', url)) <= 1024);
  });

  it('a page with a 3000-character query is cached end to end', async () => {
    const s = await startServer('node', (c) => ({ body: `len ${c.url.length}` }));
    const url = `/search?q=${'x'.repeat(3000)}`;
    await request(s.port, url);
    assert.equal((await request(s.port, url)).headers['x-cache'], 'HIT');
  });
});

describe('Cache-Control and validators', () => {
  it('parses directives, quoted values included', () => {
    const cc = parseCacheControl('Public, max-age=60, private="set-cookie, x", s-maxage = 30,, no-transform');
    assert.equal(cc.get('public'), undefined);
    assert.ok(cc.has('public'));
    assert.equal(cc.get('max-age'), '60');
    assert.equal(cc.get('private'), 'set-cookie, x');
    assert.equal(cc.get('s-maxage'), '30');
    assert.ok(cc.has('no-transform'));
    assert.deepEqual([...parseCacheControl(['no-store', 'max-age=1']).keys()], ['no-store', 'max-age']);
  });

  it('serves private pages as private whatever the handler said', () => {
    assert.equal(servedCacheControl(undefined, undefined, 60_000, false), 'public, max-age=60');
    assert.equal(servedCacheControl(undefined, 'public, max-age=10', 60_000, true), 'private, max-age=10');
    assert.equal(servedCacheControl('no-cache', 'max-age=5', 60_000, false), 'no-cache');
    assert.equal(servedCacheControl(false, undefined, 60_000, false), undefined);
    assert.equal(servedCacheControl(false, undefined, 60_000, true), 'private, max-age=60');
    assert.equal(servedCacheControl(undefined, undefined, Infinity, false), 'public, max-age=31536000');
  });

  it('If-None-Match: weak comparison, lists, *, commas inside tags, malformed', () => {
    assert.ok(matchesIfNoneMatch('"a"', '"a"'), 'same');
    assert.ok(matchesIfNoneMatch('W/"a"', '"a"'), 'weak vs strong');
    assert.ok(matchesIfNoneMatch('"a"', 'W/"a"'), 'strong vs weak');
    assert.ok(matchesIfNoneMatch(' "x" ,"a"', '"a"'), 'in a list');
    assert.ok(matchesIfNoneMatch('*', '"a"'), 'any');
    assert.ok(matchesIfNoneMatch('"a,b"', '"a,b"'), 'a comma inside a tag');
    assert.ok(!matchesIfNoneMatch('"a', '"a"'), 'unterminated');
    assert.ok(!matchesIfNoneMatch('a', '"a"'), 'unquoted');
    assert.ok(!matchesIfNoneMatch('"b"', '"a"'), 'different');
  });
});

describe('replayed bodies', () => {
  const bodies: [string, Buffer, Record<string, string>][] = [
    ['multi-byte UTF-8 JSON', Buffer.from(JSON.stringify({ name: 'Zoë – 東京 🚀', n: 1 })), { 'content-type': 'application/json; charset=utf-8' }],
    ['bytes that are not UTF-8', Buffer.from([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x41]), { 'content-type': 'application/octet-stream' }],
    ['UTF-8 text without a Content-Type', Buffer.from('plain ✓ text'), {}],
    ['a 20 KiB UTF-8 body', Buffer.from('é'.repeat(10 * 1024)), { 'content-type': 'text/plain; charset=utf-8' }],
  ];
  for (const adapter of ['node', 'express', 'fastify', 'hono'] as const) {
    it(`${adapter}: a hit sends the stored bytes exactly, with their Content-Length and Content-Type`, async () => {
      const s = await startServer(adapter, (c) => {
        const found = bodies.find((_, i) => c.url === `/b${i}`)!;
        return { body: found[1], headers: found[2] };
      });
      for (const [i, [name, body]] of bodies.entries()) {
        const miss = await request(s.port, `/b${i}`);
        const hit = await request(s.port, `/b${i}`);
        assert.equal(hit.headers['x-cache'], 'HIT', `${name}: served from the cache`);
        assert.ok(hit.body.equals(body), `${name}: the hit's bytes are the handler's`);
        assert.ok(hit.body.equals(miss.body), `${name}: hit and miss send the same bytes`);
        assert.equal(hit.headers['content-length'], String(body.length), `${name}: Content-Length is the byte length`);
        assert.equal(hit.headers['content-type'], miss.headers['content-type'], `${name}: the hit keeps the miss's Content-Type`);
      }
      assert.equal(s.calls(), bodies.length, 'each page was rendered once');
    });
  }
});

describe('hits are counted', () => {
  for (const adapter of ['node', 'express', 'fastify', 'hono'] as const) {
    it(`${adapter}: every hit is one hit in the cache's stats and one 'hit' event; a disabled cache serves none`, async () => {
      const cache = memoryCache();
      const s = await startServer(adapter, () => ({ body: 'counted', headers: { 'content-type': 'text/plain' } }), {}, { cache });
      const events: string[] = [];
      cache.on('hit', (e) => events.push(e.key));
      await request(s.port, '/c');
      const before = cache.stats();
      for (let i = 0; i < 3; i++) assert.equal((await request(s.port, '/c')).headers['x-cache'], 'HIT');
      const after = cache.stats();
      assert.equal(after.hits - before.hits, 3, 'three hits counted');
      assert.equal(after.misses, before.misses, 'no miss counted for a hit');
      assert.equal(events.length, 3, 'three hit events');
      cache.disable();
      try {
        const res = await request(s.port, '/c');
        assert.notEqual(res.headers['x-cache'], 'HIT', 'a disabled cache is a pass-through');
        assert.equal(s.calls(), 2, 'the handler ran again');
      } finally {
        cache.enable();
      }
    });
  }
});

describe('package boundary', () => {
  /** Relative imports of a source file, resolved to files under src/. */
  function imports(file: string): string[] {
    const text = readFileSync(file, 'utf8');
    const out: string[] = [];
    for (const match of text.matchAll(/(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
      const spec = match[1] ?? match[2]!;
      out.push(path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
    }
    return out;
  }

  it('hoard core (src/index.ts and all it imports) never imports src/http', () => {
    const seen = new Set<string>();
    const queue = [path.join(root, 'src/index.ts')];
    while (queue.length !== 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      queue.push(...imports(file).filter((f) => !seen.has(f)));
    }
    const http = [...seen].filter((f) => f.includes(`${path.sep}src${path.sep}http${path.sep}`));
    assert.deepEqual(http, [], 'no module of the core graph is under src/http');
  });

  it('src/http imports web frameworks as types only (fastify-plugin at run time, in the Fastify adapter)', () => {
    const dir = path.join(root, 'src/http');
    for (const name of ['index.ts', 'node.ts', 'fastify.ts', 'hono.ts', 'engine.ts', 'policy.ts', 'key.ts', 'entry.ts', 'options.ts', 'node-recorder.ts', 'node-view.ts', 'buffered.ts']) {
      const text = readFileSync(path.join(dir, name), 'utf8');
      for (const match of text.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^'.][^']*)'/gm)) {
        const [, typeOnly, spec] = match;
        if (spec!.startsWith('node:')) continue;
        if (spec === 'fastify-plugin' && name === 'fastify.ts') continue;
        assert.ok(typeOnly !== undefined, `${name} imports ${spec} at run time`);
      }
    }
  });

  it("without a cache option, pages go to hoard's default cache", async () => {
    try {
      const s = await startServer('node', () => ({ body: 'default' }), {}, { defaultCache: true });
      await request(s.port, '/d');
      assert.equal((await request(s.port, '/d')).headers['x-cache'], 'HIT');
      assert.ok(defaultCache.stats().size >= 1, 'the page is in the default cache');
    } finally {
      await resetDefaultCache();
    }
  });

  it('a namespace view of a cache holds the pages, and its clear() drops them', async () => {
    const cache = memoryCache();
    const s = await startServer('express', () => ({ body: 'ns' }), {}, { cache: cache.namespace('pages') });
    await request(s.port, '/n');
    assert.equal((await request(s.port, '/n')).headers['x-cache'], 'HIT');
    await cache.namespace('pages').clear();
    assert.equal((await request(s.port, '/n')).headers['x-cache'], 'MISS', 'clear() of the namespace drops the pages');
  });
});
