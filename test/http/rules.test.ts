/**
 * Every rule of the response cache and every H row of FAULTS.md section 3.4 that concerns response
 * caching (H1-H8, H11-H13), against a real listening server for each adapter: Node `http`,
 * Express, Fastify and Hono. H9 and H10 concern the admin routes, which are not part of the
 * response cache.
 */
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';
import { ADAPTERS, memoryCache, registerCleanup, request, sleep, startServer, until, type Response1, type TestServer } from './support.js';

registerCleanup();
guardProcess();

const CLOCK_START = 1_700_000_000_000;

/** Header lines that differ between two replies of one page by nature. */
const PER_REPLY = new Set(['date', 'age', 'x-cache', 'connection', 'keep-alive', 'transfer-encoding']);
function stableLines(r: Response1): string[] {
  const out: string[] = [];
  for (let i = 0; i < r.raw.length; i += 2) if (!PER_REPLY.has(r.raw[i]!.toLowerCase())) out.push(`${r.raw[i]!.toLowerCase()}: ${r.raw[i + 1]}`);
  return out.sort();
}

for (const adapter of ADAPTERS) {
  describe(`${adapter}: storing and replaying`, () => {
    it('stores a 200 GET once and replays it with X-Cache, ETag, Age and Cache-Control', async () => {
      const s = await startServer(adapter, (c) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: c.n }) }));
      const a = await request(s.port, '/p');
      const b = await request(s.port, '/p');
      assert.equal(a.headers['x-cache'], 'MISS', 'first request misses');
      assert.equal(b.headers['x-cache'], 'HIT', 'second request hits');
      assert.equal(b.text, '{"n":1}');
      assert.equal(s.calls('/p'), 1, 'the handler ran once');
      assert.ok(typeof a.headers.etag === 'string' && a.headers.etag.length > 2, 'the stored page has an ETag');
      if (adapter !== 'express') assert.match(a.headers.etag, /^"[A-Za-z0-9_-]{27}"$/, 'a strong ETag computed from the body');
      assert.equal(b.headers.etag, a.headers.etag);
      assert.equal(b.headers.age, '0');
      assert.equal(a.headers['cache-control'], 'public, max-age=300', 'default: public, max-age of the default TTL');
      assert.equal(b.headers['cache-control'], 'public, max-age=300');
      assert.match(String(b.headers['content-type']), /^application\/json/);
      assert.equal(b.headers['content-length'], '7');
    });

    it('replays the handler headers exactly: repeated lines, names, type and encoding', async () => {
      const body = gzipSync('hello gzip');
      const s = await startServer(adapter, () => ({
        headers: {
          'content-type': 'text/plain; charset=utf-8',
          'content-encoding': 'gzip',
          'content-language': 'fr',
          link: ['</a.css>; rel=preload', '</b.js>; rel=preload'],
          'x-custom': 'one',
          vary: 'Accept-Encoding',
        },
        body,
      }));
      const headers = { 'accept-encoding': 'gzip' };
      const a = await request(s.port, '/h', { headers });
      const b = await request(s.port, '/h', { headers });
      assert.equal(b.headers['x-cache'], 'HIT');
      assert.deepEqual(stableLines(b), stableLines(a), 'the hit carries the same header lines as the miss');
      assert.equal(gunzipSync(b.body).toString(), 'hello gzip');
      if (adapter !== 'hono') {
        // Web Headers join repeated lines; Node, Express and Fastify keep them apart.
        assert.equal(b.raw.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'link').length, 2, 'two Link lines');
      }
    });

    it('H13: answers If-None-Match with 304 and no body, comparing weakly', async () => {
      const s = await startServer(adapter, () => ({ body: 'page' }));
      const a = await request(s.port, '/e');
      const etag = String(a.headers.etag);
      const weak = etag.startsWith('W/') ? etag : `W/${etag}`;
      for (const inm of [etag, weak, `"nope", ${etag}`, '*']) {
        const r = await request(s.port, '/e', { headers: { 'if-none-match': inm } });
        assert.equal(r.status, 304, `304 for If-None-Match: ${inm}`);
        assert.equal(r.body.length, 0, '304 has no body');
        assert.equal(r.headers.etag, etag);
        assert.equal(r.headers['x-cache'], 'HIT');
      }
      const other = await request(s.port, '/e', { headers: { 'if-none-match': '"other"' } });
      assert.equal(other.status, 200);
      assert.equal(other.text, 'page');
      assert.equal(s.calls('/e'), 1);
    });

    it('H13: the handler never sees validators on a miss; the leader gets its 304, the page is stored whole', async () => {
      const s = await startServer(adapter, (c) => ({ headers: { etag: '"v1"' }, body: `saw validator: ${c.headers['if-none-match'] ?? 'none'}` }));
      const lead = await request(s.port, '/v', { headers: { 'if-none-match': '"v1"' } });
      assert.equal(lead.status, 304, 'the leader validators match the new page');
      assert.equal(lead.body.length, 0);
      const next = await request(s.port, '/v');
      assert.equal(next.status, 200);
      assert.equal(next.headers['x-cache'], 'HIT');
      assert.equal(next.text, 'saw validator: none', 'a 304 is never stored and the handler saw no validator');
    });

    it('H11: HEAD is served from the GET page, without body, with the same headers; a HEAD miss is not stored', async () => {
      const s = await startServer(adapter, () => ({ headers: { 'content-type': 'text/plain' }, body: 'twelve bytes' }));
      const get = await request(s.port, '/head');
      const head = await request(s.port, '/head', { method: 'HEAD' });
      assert.equal(head.headers['x-cache'], 'HIT');
      assert.equal(head.body.length, 0);
      assert.equal(head.headers['content-length'], '12');
      assert.equal(head.headers.etag, get.headers.etag);
      assert.equal(head.headers['content-type'], get.headers['content-type']);
      assert.equal(s.calls('/head'), 1);

      const first = await request(s.port, '/head-first', { method: 'HEAD' });
      assert.equal(first.headers['x-cache'], 'MISS');
      const then = await request(s.port, '/head-first');
      assert.equal(then.headers['x-cache'], 'MISS', 'the HEAD miss stored nothing');
      assert.equal(s.calls('/head-first'), 2);
    });
  });

  describe(`${adapter}: what is never stored`, () => {
    it('H1: a response with Set-Cookie is not served from the cache; B never receives A cookie', async () => {
      const s = await startServer(adapter, (c) => ({ headers: { 'set-cookie': `sid=${String(c.headers['x-user'])}; Path=/; HttpOnly` }, body: 'welcome' }));
      const a = await request(s.port, '/login', { headers: { 'x-user': 'alice' } });
      const b = await request(s.port, '/login', { headers: { 'x-user': 'bob' } });
      assert.equal(a.headers['x-cache'], 'MISS');
      assert.equal(b.headers['x-cache'], 'MISS');
      assert.deepEqual(b.headers['set-cookie'], ['sid=bob; Path=/; HttpOnly'], 'B gets its own cookie, never A');
      assert.equal(s.calls('/login'), 2);
      assert.equal(s.cache.stats().size, 0, 'nothing stored');
    });

    it('H1: 50 concurrent coalesced misses on a Set-Cookie response: each gets its own handler run and cookie', async () => {
      const s: TestServer = await startServer(adapter, async (c) => {
        await until(() => s.arrivals() >= 50);
        return { headers: { 'set-cookie': `sid=${String(c.headers['x-req'])}` }, body: `for ${String(c.headers['x-req'])}` };
      });
      const port = s.port;
      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => request(port, '/session', { headers: { 'x-req': String(i) } })));
      replies.forEach((r, i) => {
        assert.deepEqual(r.headers['set-cookie'], [`sid=${i}`], `request ${i} got its own cookie`);
        assert.equal(r.text, `for ${i}`, `request ${i} got its own page`);
        assert.equal(r.headers['x-cache'], 'MISS');
      });
      assert.equal(s.calls('/session'), 50, 'one handler run per request');
      assert.equal(s.cache.stats().size, 0);
    });

    it('single flight: 50 concurrent misses of a storable page run the handler once', async () => {
      const s: TestServer = await startServer(adapter, async (c) => {
        await until(() => s.arrivals() >= 50);
        return { body: `page ${c.n}` };
      });
      const port = s.port;
      const replies = await Promise.all(Array.from({ length: 50 }, () => request(port, '/flight')));
      assert.equal(s.calls('/flight'), 1);
      for (const r of replies) assert.equal(r.text, 'page 1', 'every request got the one page');
      assert.equal(replies.filter((r) => r.headers['x-cache'] === 'MISS').length, 1, 'one MISS, the rest HIT');
    });

    it('H2: Cache-Control private, no-store, no-cache and Vary: * are never stored', async () => {
      const s = await startServer(adapter, (c) => {
        const kind = c.query.get('kind')!;
        return kind === 'vary' ? { headers: { vary: '*' }, body: 'v' } : { headers: { 'cache-control': kind }, body: kind };
      });
      for (const kind of ['private', 'no-store', 'no-cache', 'private, max-age=60', 'vary']) {
        const q = `/h2?kind=${encodeURIComponent(kind)}`;
        const a = await request(s.port, q);
        const b = await request(s.port, q);
        assert.equal(a.headers['x-cache'], 'MISS', kind);
        assert.equal(b.headers['x-cache'], 'MISS', `${kind} is not served from the cache`);
        if (kind !== 'vary') assert.equal(b.headers['cache-control'], kind, 'a refused response keeps its own Cache-Control');
      }
      assert.equal(s.cache.stats().size, 0, 'store size unchanged');
    });

    it('H3: requests with Authorization or Cookie bypass: neither served from nor stored', async () => {
      const s = await startServer(adapter, (c) => ({ body: `for ${String(c.headers.authorization ?? c.headers.cookie ?? 'anonymous')}` }));
      const anon = await request(s.port, '/me');
      assert.equal(anon.headers['x-cache'], 'MISS');
      for (const headers of [{ authorization: 'Bearer alice' }, { cookie: 'sid=bob' }]) {
        const r1 = await request(s.port, '/me', { headers });
        const r2 = await request(s.port, '/me', { headers });
        assert.equal(r1.headers['x-cache'], 'BYPASS');
        assert.equal(r2.headers['x-cache'], 'BYPASS');
        assert.equal(r2.text, `for ${Object.values(headers)[0]}`, 'the user gets the handler answer, not the shared page');
      }
      const again = await request(s.port, '/me');
      assert.equal(again.headers['x-cache'], 'HIT');
      assert.equal(again.text, 'for anonymous', 'no user page reached the shared entry');
      assert.equal(s.cache.stats().size, 1);
    });

    it('H7: 500 and 502 are not stored; a throwing handler is not stored', async () => {
      const s = await startServer(adapter, (c) => (c.query.get('throw') === '1' ? { throws: true } : { status: Number(c.query.get('s')), body: 'err' }));
      for (const path of ['/err?s=500', '/err?s=502', '/err?throw=1']) {
        const a = await request(s.port, path);
        const b = await request(s.port, path);
        assert.ok(a.status >= 500, `${path} failed`);
        assert.equal(b.headers['x-cache'], 'MISS', `${path} is not served from the cache`);
      }
      assert.equal(s.calls('/err'), 6);
      assert.equal(s.cache.stats().size, 0);
    });

    it('only the statuses listed are stored: 404 by choice, not by default', async () => {
      const plain = await startServer(adapter, () => ({ status: 404, body: 'none' }));
      await request(plain.port, '/missing');
      assert.equal((await request(plain.port, '/missing')).headers['x-cache'], 'MISS');
      const listed = await startServer(adapter, () => ({ status: 404, body: 'none' }), { statuses: [200, 404] });
      await request(listed.port, '/missing');
      const hit = await request(listed.port, '/missing');
      assert.equal(hit.headers['x-cache'], 'HIT');
      assert.equal(hit.status, 404);
    });

    it('condition(req, res) can keep a response out', async () => {
      const s = await startServer(adapter, (c) => ({ status: 200, headers: { 'x-partial': c.query.get('partial') ?? 'no' }, body: 'x' }), {
        condition: () => false,
      });
      await request(s.port, '/cond');
      assert.equal((await request(s.port, '/cond')).headers['x-cache'], 'MISS');
      assert.equal(s.cache.stats().size, 0);
    });

    it('H12: a body over maxBodyBytes passes through untouched and uncached', async () => {
      const big = Buffer.alloc(4096, 0x62);
      const s = await startServer(adapter, () => ({ headers: { 'content-type': 'application/octet-stream' }, body: big }), { maxBodyBytes: 1024 });
      const a = await request(s.port, '/big');
      const b = await request(s.port, '/big');
      assert.equal(b.headers['x-cache'], 'MISS');
      assert.ok(a.body.equals(big) && b.body.equals(big), 'the whole body arrived');
      assert.equal(s.cache.stats().size, 0);
    });

    it('H12: a streamed body passes through uncached', async () => {
      const s = await startServer(adapter, () => ({ headers: { 'content-type': 'text/plain' }, stream: { chunks: 5, size: 100, gapMs: 5 } }));
      const a = await request(s.port, '/stream');
      const b = await request(s.port, '/stream');
      assert.equal(a.body.length, 500);
      assert.equal(b.body.length, 500);
      assert.equal(b.headers['x-cache'], 'MISS');
      assert.equal(s.calls('/stream'), 2);
      assert.equal(s.cache.stats().size, 0);
    });

    it('a Vary naming a header outside the key is not stored; listed in vary, it is keyed', async () => {
      const handler = (c: { headers: Record<string, string | string[] | undefined> }): { headers: Record<string, string>; body: string } => ({
        headers: { vary: 'Accept-Language' },
        body: `lang ${String(c.headers['accept-language'])}`,
      });
      const refused = await startServer(adapter, handler);
      await request(refused.port, '/l', { headers: { 'accept-language': 'fr' } });
      const r = await request(refused.port, '/l', { headers: { 'accept-language': 'en' } });
      assert.equal(r.headers['x-cache'], 'MISS');
      assert.equal(r.text, 'lang en', 'an unkeyed Vary never serves the French page to an English client');
      assert.equal(refused.cache.stats().size, 0);

      const keyed = await startServer(adapter, handler, { vary: ['accept-language'] });
      await request(keyed.port, '/l', { headers: { 'accept-language': 'fr' } });
      const en = await request(keyed.port, '/l', { headers: { 'accept-language': 'en' } });
      const fr = await request(keyed.port, '/l', { headers: { 'accept-language': 'fr' } });
      assert.equal(en.text, 'lang en');
      assert.equal(en.headers['x-cache'], 'MISS');
      assert.equal(fr.text, 'lang fr');
      assert.equal(fr.headers['x-cache'], 'HIT');
    });
  });

  describe(`${adapter}: keys`, () => {
    it('H4: Vary: Accept-Encoding gives one entry per encoding; an identity client never gets gzip', async () => {
      const s = await startServer(adapter, (c) => {
        const gzip = String(c.headers['accept-encoding'] ?? '').includes('gzip');
        return gzip
          ? { headers: { 'content-encoding': 'gzip', vary: 'Accept-Encoding', 'content-type': 'text/plain' }, body: gzipSync('zipped text') }
          : { headers: { vary: 'Accept-Encoding', 'content-type': 'text/plain' }, body: 'zipped text' };
      });
      const gz = await request(s.port, '/enc', { headers: { 'accept-encoding': 'gzip' } });
      const id = await request(s.port, '/enc', { headers: { 'accept-encoding': 'identity' } });
      assert.equal(gz.headers['content-encoding'], 'gzip');
      assert.equal(id.headers['content-encoding'], undefined, 'the identity client does not get gzip');
      assert.equal(id.text, 'zipped text');
      assert.equal(s.cache.stats().size, 2, 'two distinct entries');
      const gz2 = await request(s.port, '/enc', { headers: { 'accept-encoding': 'gzip' } });
      const id2 = await request(s.port, '/enc', { headers: { 'accept-encoding': 'identity' } });
      assert.equal(gz2.headers['x-cache'], 'HIT');
      assert.equal(gunzipSync(gz2.body).toString(), 'zipped text');
      assert.equal(id2.headers['x-cache'], 'HIT');
      assert.equal(id2.text, 'zipped text');
    });

    it('H5: a reflected X-Forwarded-Host never reaches another client', async () => {
      const s = await startServer(adapter, (c) => ({ body: `<a href="https://${String(c.headers['x-forwarded-host'] ?? c.headers.host)}/next">next</a>` }));
      const evil = await request(s.port, '/link', { headers: { 'x-forwarded-host': 'evil.test' } });
      assert.match(evil.text, /evil\.test/);
      const plain = await request(s.port, '/link');
      assert.doesNotMatch(plain.text, /evil\.test/, 'the forwarded host is part of the key');
      const evil2 = await request(s.port, '/link', { headers: { 'x-forwarded-host': 'evil.test' } });
      assert.equal(evil2.headers['x-cache'], 'HIT');
    });

    it('H8: query order is normalised; repeated parameters keep their order', async () => {
      const s = await startServer(adapter, (c) => ({ body: `q ${c.n}` }));
      const a = await request(s.port, '/q?a=1&b=2');
      const b = await request(s.port, '/q?b=2&a=1');
      assert.equal(b.headers['x-cache'], 'HIT', '?a=1&b=2 and ?b=2&a=1 are one entry');
      assert.equal(b.text, a.text);
      const c = await request(s.port, '/q?a=1&&b=2&');
      assert.equal(c.headers['x-cache'], 'HIT', 'empty parameters are dropped');
      const d = await request(s.port, '/q?x=1&x=2');
      const e = await request(s.port, '/q?x=2&x=1');
      assert.equal(d.headers['x-cache'], 'MISS');
      assert.equal(e.headers['x-cache'], 'MISS', 'the order of a repeated parameter matters');
      const f = await request(s.port, '/q?');
      const g = await request(s.port, '/q');
      assert.equal(f.headers['x-cache'], 'MISS');
      assert.equal(g.headers['x-cache'], 'HIT', 'an empty query is no query');
    });

    it('Range, If-Match, a request body and method overrides bypass the cache', async () => {
      const s = await startServer(adapter, () => ({ body: 'whole' }));
      await request(s.port, '/r');
      for (const headers of [
        { range: 'bytes=0-1' },
        { 'if-match': '"x"' },
        { 'if-unmodified-since': new Date().toUTCString() },
        { 'x-http-method-override': 'DELETE' },
        { 'content-length': '3' },
      ]) {
        const r = await request(s.port, '/r', { headers, ...(headers['content-length'] === undefined ? {} : { body: 'abc' }) });
        assert.equal(r.headers['x-cache'], 'BYPASS', JSON.stringify(headers));
      }
      assert.equal((await request(s.port, '/r')).headers['x-cache'], 'HIT', 'the page is still there');
    });
  });

  describe(`${adapter}: identity`, () => {
    it('a private cache keys by identity and never serves a page across identities', async () => {
      const s = await startServer(adapter, (c) => ({ body: `orders of ${String(c.headers['x-user'])}` }), { identity: { header: 'x-user' } });
      const a1 = await request(s.port, '/orders', { headers: { 'x-user': 'alice', cookie: 'sid=a' } });
      const a2 = await request(s.port, '/orders', { headers: { 'x-user': 'alice', cookie: 'sid=a' } });
      const b1 = await request(s.port, '/orders', { headers: { 'x-user': 'bob', cookie: 'sid=b' } });
      assert.equal(a1.headers['x-cache'], 'MISS');
      assert.equal(a2.headers['x-cache'], 'HIT');
      assert.equal(b1.headers['x-cache'], 'MISS');
      assert.equal(b1.text, 'orders of bob');
      assert.match(String(a2.headers['cache-control']), /^private/, 'a private page says so downstream');
      const anon = await request(s.port, '/orders');
      assert.equal(anon.headers['x-cache'], 'BYPASS', 'no identity: bypass');
    });

    it("identity 'credentials' keys by the Authorization and Cookie headers", async () => {
      const s = await startServer(adapter, (c) => ({ body: `for ${String(c.headers.authorization)}` }), { identity: 'credentials' });
      await request(s.port, '/c', { headers: { authorization: 'Bearer a' } });
      const b = await request(s.port, '/c', { headers: { authorization: 'Bearer b' } });
      const a = await request(s.port, '/c', { headers: { authorization: 'Bearer a' } });
      assert.equal(b.text, 'for Bearer b');
      assert.equal(a.headers['x-cache'], 'HIT');
      assert.equal(a.text, 'for Bearer a');
    });

    it("the client's Cache-Control neither unlocks a refused response nor reaches another user's page", async () => {
      const tricks = { 'cache-control': 'max-stale=3600, only-if-cached', pragma: 'no-cache' };
      const cookies = await startServer(adapter, (c) => ({ headers: { 'set-cookie': `sid=${String(c.headers['x-user'])}` }, body: 'x' }));
      await request(cookies.port, '/sc', { headers: { 'x-user': 'a' } });
      const b = await request(cookies.port, '/sc', { headers: { 'x-user': 'b', ...tricks } });
      assert.equal(b.headers['x-cache'], 'MISS');
      assert.deepEqual(b.headers['set-cookie'], ['sid=b']);

      const priv = await startServer(adapter, (c) => ({ body: `orders of ${String(c.headers['x-user'])}` }), { identity: { header: 'x-user' } });
      await request(priv.port, '/o', { headers: { 'x-user': 'alice' } });
      const bob = await request(priv.port, '/o', { headers: { 'x-user': 'bob', 'cache-control': 'max-stale=3600' } });
      assert.equal(bob.text, 'orders of bob');

      const pub = await startServer(adapter, (c) => ({ body: `v${c.n}` }));
      await request(pub.port, '/p');
      const forced = await request(pub.port, '/p', { headers: { 'cache-control': 'no-cache', pragma: 'no-cache' } });
      assert.equal(forced.headers['x-cache'], 'HIT', 'a client cannot force the handler to run');
      assert.equal(pub.calls('/p'), 1);
    });
  });

  describe(`${adapter}: invalidation`, () => {
    it('H6: a successful POST, PUT, DELETE or PATCH purges the cached GET; unsafe methods are never cached', async () => {
      let version = 1;
      const s = await startServer(adapter, (c) => {
        if (c.method === 'GET') return { body: `v${version}` };
        if (c.query.get('fail') === '1') return { status: 422, body: 'no' };
        version++;
        return { status: c.method === 'POST' ? 201 : 200, body: 'ok' };
      });
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        await request(s.port, '/item');
        assert.equal((await request(s.port, '/item')).headers['x-cache'], 'HIT');
        const failed = await request(s.port, '/item?fail=1', { method });
        assert.equal(failed.status, 422);
        assert.equal((await request(s.port, '/item')).headers['x-cache'], 'HIT', `a failed ${method} purges nothing`);
        const unsafe = await request(s.port, '/item', { method });
        assert.equal(unsafe.headers['x-cache'], 'BYPASS');
        const after = await request(s.port, '/item');
        assert.equal(after.headers['x-cache'], 'MISS', `${method} purged the page`);
        assert.equal(after.text, `v${version}`);
      }
      const calls = s.calls('/item');
      await request(s.port, '/item', { method: 'POST' });
      await request(s.port, '/item', { method: 'POST' });
      assert.equal(s.calls('/item'), calls + 2, 'POST always runs the handler');
    });

    it('H6: Location and Content-Location of a successful unsafe request are purged too', async () => {
      let version = 1;
      const s = await startServer(adapter, (c) => {
        if (c.method === 'GET') return { body: `item v${version}` };
        version++;
        return { status: 201, headers: { location: '/items/7' }, body: 'created' };
      });
      await request(s.port, '/items/7');
      assert.equal((await request(s.port, '/items/7')).headers['x-cache'], 'HIT');
      await request(s.port, '/items', { method: 'POST' });
      const after = await request(s.port, '/items/7');
      assert.equal(after.headers['x-cache'], 'MISS');
      assert.equal(after.text, 'item v2');
    });

    it('tags(req) label pages so that invalidateTags purges them', async () => {
      const s = await startServer(adapter, (c) => ({ body: `p${c.n}` }), { tags: (url) => [`product:${new URL(url, 'http://x').searchParams.get('id')}`] });
      await request(s.port, '/product?id=1');
      await request(s.port, '/product?id=2');
      assert.equal((await request(s.port, '/product?id=1')).headers['x-cache'], 'HIT');
      assert.equal(await s.cache.invalidateTags(['product:1']), 1);
      assert.equal((await request(s.port, '/product?id=1')).headers['x-cache'], 'MISS');
      assert.equal((await request(s.port, '/product?id=2')).headers['x-cache'], 'HIT', 'other tags untouched');
    });

    it('a refused URL is remembered: later requests run the handler at once instead of queueing', async () => {
      let running = 0;
      let peak = 0;
      let target = 1;
      const s: TestServer = await startServer(adapter, async () => {
        running++;
        peak = Math.max(peak, running);
        await until(() => s.arrivals() >= target);
        await sleep(10);
        running--;
        return { headers: { 'set-cookie': 'a=1' }, body: 'x' };
      });
      const port = s.port;
      assert.equal((await request(port, '/remember')).headers['x-cache'], 'MISS');
      peak = 0;
      target = 6;
      const replies = await Promise.all(Array.from({ length: 5 }, () => request(port, '/remember')));
      for (const r of replies) assert.equal(r.headers['x-cache'], 'MISS');
      // Queued behind a leader, at most 4 would run together (after the leader); remembered, all 5 do.
      assert.equal(peak, 5, 'once refused, requests no longer wait behind one another');
    });
  });

  describe(`${adapter}: time, grace and freshness`, () => {
    it('Age grows with time; the page expires at its TTL', async () => {
      const clock = fakeClock(CLOCK_START);
      const s = await startServer(adapter, (c) => ({ body: `v${c.n}` }), { ttl: '10s' }, { clock });
      await request(s.port, '/t');
      clock.advance(4_500);
      const mid = await request(s.port, '/t');
      assert.equal(mid.headers.age, '4');
      assert.equal(mid.headers['cache-control'], 'public, max-age=10');
      clock.advance(5_500);
      const late = await request(s.port, '/t');
      assert.equal(late.headers['x-cache'], 'MISS');
      assert.equal(late.text, 'v2');
    });

    it('without ttl, the response max-age decides, and max-age=0 is not stored', async () => {
      const clock = fakeClock(CLOCK_START);
      const s = await startServer(adapter, (c) => ({ headers: { 'cache-control': c.query.get('cc')! }, body: `v${c.n}` }), {}, { clock });
      await request(s.port, '/m?cc=max-age%3D60');
      clock.advance(59_000);
      assert.equal((await request(s.port, '/m?cc=max-age%3D60')).headers['x-cache'], 'HIT');
      clock.advance(1_000);
      assert.equal((await request(s.port, '/m?cc=max-age%3D60')).headers['x-cache'], 'MISS');
      await request(s.port, '/m?cc=max-age%3D0');
      assert.equal((await request(s.port, '/m?cc=max-age%3D0')).headers['x-cache'], 'MISS');
    });

    it('grace: while one request refreshes, the others get the stale page at once (stale-while-revalidate)', async () => {
      const clock = fakeClock(CLOCK_START);
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const s = await startServer(
        adapter,
        async (c) => {
          if (c.n === 2) await gate;
          return { body: `v${c.n}` };
        },
        { ttl: '1s', grace: '1h' },
        { clock },
      );
      assert.equal((await request(s.port, '/g')).text, 'v1');
      clock.advance(2_500);
      const refresh = request(s.port, '/g');
      await until(() => s.calls('/g') === 2);
      const meanwhile = await request(s.port, '/g');
      assert.equal(meanwhile.headers['x-cache'], 'STALE');
      assert.equal(meanwhile.text, 'v1');
      assert.equal(meanwhile.headers.age, '2');
      release();
      const fresh = await refresh;
      assert.equal(fresh.headers['x-cache'], 'MISS');
      assert.equal(fresh.text, 'v2');
      const after = await request(s.port, '/g');
      assert.equal(after.headers['x-cache'], 'HIT');
      assert.equal(after.text, 'v2');
      assert.equal(s.calls('/g'), 2);
    });

    it('grace: when the handler fails, the stale page is served instead (stale-if-error), then retried after the backoff', async () => {
      const clock = fakeClock(CLOCK_START);
      const s = await startServer(adapter, (c) => (c.n === 2 ? { status: 503, body: 'down' } : c.n === 3 ? { throws: true } : { body: `v${c.n}` }), { ttl: '1s', grace: '1h' }, { clock });
      s.cache.on('error', () => undefined);
      await request(s.port, '/sie');
      clock.advance(2_000);
      const failed = await request(s.port, '/sie');
      assert.equal(failed.status, 200);
      assert.equal(failed.headers['x-cache'], 'STALE');
      assert.equal(failed.text, 'v1');
      const backoff = await request(s.port, '/sie');
      assert.equal(backoff.headers['x-cache'], 'STALE');
      assert.equal(s.calls('/sie'), 2, 'no new handler run while backing off');
      clock.advance(11_000);
      const thrown = await request(s.port, '/sie');
      assert.equal(thrown.headers['x-cache'], 'STALE', 'a throwing handler is masked too');
      assert.equal(thrown.text, 'v1');
      clock.advance(11_000);
      const back = await request(s.port, '/sie');
      assert.equal(back.headers['x-cache'], 'MISS');
      assert.equal(back.text, 'v4');
    });

    it('a page with must-revalidate is never served stale', async () => {
      const clock = fakeClock(CLOCK_START);
      const s = await startServer(adapter, (c) => (c.n === 1 ? { headers: { 'cache-control': 'max-age=1, must-revalidate' }, body: 'v1' } : { status: 503, body: 'down' }), { ttl: '1s', grace: '1h' }, { clock });
      await request(s.port, '/mr');
      clock.advance(2_000);
      const r = await request(s.port, '/mr');
      assert.equal(r.status, 503, 'the error, not the stale page');
    });
  });
}

describe('a cache shared by two middlewares', () => {
  it('keyPrefix keeps two response caches on one hoard cache apart', async () => {
    const cache = memoryCache();
    const a = await startServer('node', () => ({ body: 'from a' }), { keyPrefix: 'a:' }, { cache });
    const b = await startServer('node', () => ({ body: 'from b' }), { keyPrefix: 'b:' }, { cache });
    const host = { host: 'example.test' };
    await request(a.port, '/x', { headers: host });
    const fromB = await request(b.port, '/x', { headers: host });
    assert.equal(fromB.text, 'from b');
    assert.equal(cache.stats().size, 2);
  });
});
