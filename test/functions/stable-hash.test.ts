import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cached, createCache, InvalidKeyError, memoryStore, stableHash } from '../../src/index.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

const hash = (value: unknown): string => stableHash([value]);

/** Every value gets a hash of its own. */
function assertAllDistinct(values: readonly unknown[]): void {
  const hashes = values.map(hash);
  for (let i = 0; i < hashes.length; i++) {
    for (let j = i + 1; j < hashes.length; j++) {
      assert.notEqual(hashes[i], hashes[j], `values ${i} and ${j} share a hash`);
    }
  }
}

/** `fn` throws an InvalidKeyError naming `path` and pointing at the `key` option. */
function assertOpaque(fn: () => unknown, path: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof InvalidKeyError);
    assert.match(error.message, path);
    assert.match(error.message, /pass `key`/);
    return true;
  });
}

describe('stableHash: values whose state is not in own enumerable keys', () => {
  it('URLs by their href', () => {
    assert.notEqual(hash(new URL('https://a.test/x')), hash(new URL('https://a.test/y')));
    assert.notEqual(hash(new URL('https://a.test/x?q=1')), hash(new URL('https://a.test/x?q=2')));
    assert.equal(hash(new URL('https://a.test/x')), hash(new URL('/x', 'https://a.test')));
    assert.equal(hash(new URL('HTTPS://A.test:443/x')), hash(new URL('https://a.test/x')));
    assert.notEqual(hash(new URL('https://a.test/x')), hash('https://a.test/x'));
  });

  it('URLSearchParams by their string', () => {
    assert.notEqual(hash(new URLSearchParams('a=1')), hash(new URLSearchParams('a=2')));
    assert.equal(hash(new URLSearchParams({ a: '1', b: '2' })), hash(new URLSearchParams('a=1&b=2')));
    assert.notEqual(hash(new URLSearchParams('a=1')), hash('a=1'));
    assert.notEqual(hash(new URLSearchParams('a=1')), hash(new URL('https://a.test/?a=1')));
  });

  it('RegExps by source and flags', () => {
    assert.notEqual(hash(/a/), hash(/b/));
    assert.notEqual(hash(/a/g), hash(/a/i));
    assert.notEqual(hash(/a/), hash(/a/g));
    assert.equal(hash(/a+b/gi), hash(new RegExp('a+b', 'ig')));
    const used = /a/g;
    used.exec('aa');
    assert.equal(hash(used), hash(/a/g));
    assert.notEqual(hash(/a/g), hash('/a/g'));
  });

  it('Errors by class, message, own enumerable fields and cause', () => {
    assert.notEqual(hash(new Error('a')), hash(new Error('b')));
    assert.notEqual(hash(new Error('a')), hash(new TypeError('a')));
    assert.notEqual(hash(new Error('a')), hash({ message: 'a' }));
    assert.notEqual(hash(Object.assign(new Error('a'), { code: 'E1' })), hash(Object.assign(new Error('a'), { code: 'E2' })));
    assert.notEqual(hash(new Error('a', { cause: 'x' })), hash(new Error('a', { cause: 'y' })));
    assert.notEqual(hash(new Error('a', { cause: new Error('x') })), hash(new Error('a', { cause: new Error('y') })));
    assert.notEqual(hash(new Error('a', { cause: 'x' })), hash(new Error('a')));
    assert.notEqual(hash(new AggregateError([new Error('x')], 'a')), hash(new AggregateError([new Error('y')], 'a')));
    // Equal errors made on different lines share a key: the stack is not part of it.
    const first = Object.assign(new RangeError('a', { cause: new Error('c') }), { code: 'E1' });
    const second = Object.assign(new RangeError('a', { cause: new Error('c') }), { code: 'E1' });
    assert.notEqual(first.stack, second.stack);
    assert.equal(hash(first), hash(second));
  });

  it('an Error that is its own cause is circular', () => {
    const error = new Error('loop');
    error.cause = error;
    assertOpaque(() => hash(error), /\$\[0\]\.cause: a circular/);
  });

  it('objects with toJSON() by what it returns, tagged with their class', () => {
    class Money {
      constructor(readonly cents: number) {}
      toJSON(): string {
        return `${this.cents / 100} EUR`;
      }
    }
    class Label {
      constructor(readonly text: string) {}
      toJSON(): string {
        return this.text;
      }
    }
    assert.equal(hash(new Money(150)), hash(new Money(150)));
    assert.notEqual(hash(new Money(150)), hash(new Money(250)));
    assert.notEqual(hash(new Money(150)), hash(new Label('1.5 EUR')));
    assert.notEqual(hash(new Money(150)), hash('1.5 EUR'));
    const shaped = { toJSON: () => ({ a: 1 }) };
    assert.notEqual(hash(shaped), hash({ a: 1 }));
    assert.equal(hash(shaped), hash({ toJSON: () => ({ a: 1 }) }));
  });

  it('a toJSON() that throws is an InvalidKeyError keeping the cause', () => {
    const boom = new Error('boom');
    assert.throws(
      () => stableHash([1, { toJSON: () => { throw boom; } }]),
      (error: unknown) => error instanceof InvalidKeyError && /\$\[1\]/.test(error.message) && error.cause === boom,
    );
  });

  it('boxed primitives by their tagged value', () => {
    assert.notEqual(hash(new String('a')), hash(new String('b')));
    assert.notEqual(hash(new Number(1)), hash(new Number(2)));
    assert.notEqual(hash(new Boolean(true)), hash(new Boolean(false)));
    assert.equal(hash(new String('a')), hash(new String('a')));
    assert.equal(hash(new Number(NaN)), hash(new Number(NaN)));
    assert.notEqual(hash(new Number(0)), hash(new Number(-0)));
    assertAllDistinct([new String('a'), 'a', { 0: 'a' }, new Number(1), 1, new String('1'), new Boolean(true), true, Object(1n), 1n]);
    assertOpaque(() => hash(Object(Symbol('s'))), /\$\[0\].*symbol/);
  });

  it('binary data by its type and bytes', () => {
    const bytes = [1, 2, 3, 4, 5, 6, 7, 8];
    assert.equal(hash(new Int8Array(bytes)), hash(new Int8Array(bytes)));
    assert.notEqual(hash(new Int8Array([1, 2])), hash(new Int8Array([1, 3])));
    assertAllDistinct([
      new Uint8Array(bytes),
      new Int8Array(bytes),
      new Uint8ClampedArray(bytes),
      new Uint16Array(new Uint8Array(bytes).buffer),
      new Int16Array(new Uint8Array(bytes).buffer),
      new Uint32Array(new Uint8Array(bytes).buffer),
      new Int32Array(new Uint8Array(bytes).buffer),
      new Float32Array(new Uint8Array(bytes).buffer),
      new Float64Array(new Uint8Array(bytes).buffer),
      new BigInt64Array(new Uint8Array(bytes).buffer),
      new BigUint64Array(new Uint8Array(bytes).buffer),
      new DataView(new Uint8Array(bytes).buffer),
      new Uint8Array(bytes).buffer,
      bytes,
    ]);
    // A Buffer is a Uint8Array: the same bytes are the same key.
    assert.equal(hash(Buffer.from(bytes)), hash(new Uint8Array(bytes)));
  });

  it('ArrayBuffer and DataView by their bytes', () => {
    assert.notEqual(hash(new Uint8Array([1]).buffer), hash(new Uint8Array([2]).buffer));
    assert.equal(hash(new Uint8Array([1, 2]).buffer), hash(new Uint8Array([1, 2]).buffer));
    assert.notEqual(hash(new DataView(new Uint8Array([1]).buffer)), hash(new DataView(new Uint8Array([2]).buffer)));
    const wide = new Uint8Array([9, 1, 2, 9]).buffer;
    assert.equal(hash(new DataView(wide, 1, 2)), hash(new DataView(new Uint8Array([1, 2]).buffer)));
    assert.notEqual(hash(new Uint8Array(0).buffer), hash(new ArrayBuffer(1)));
  });
});

describe('stableHash: class instances', () => {
  it('with own enumerable fields: by class name and fields', () => {
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
      norm(): number {
        return Math.hypot(this.x, this.y);
      }
    }
    class Size {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    assert.equal(hash(new Point(1, 2)), hash(new Point(1, 2)));
    assert.notEqual(hash(new Point(1, 2)), hash(new Point(2, 1)));
    assert.notEqual(hash(new Point(1, 2)), hash(new Size(1, 2)));
    assert.notEqual(hash(new Point(1, 2)), hash({ x: 1, y: 2 }));
  });

  it('an own field named `constructor` does not choose the class tag', () => {
    class A {
      readonly id = 1;
    }
    class B {
      readonly id = 1;
    }
    const a = Object.assign(new A(), { constructor: 'B' });
    const b = Object.assign(new B(), { constructor: 'B' });
    assert.notEqual(hash(a), hash(b));
  });

  it('with no own enumerable state (private fields, WeakMap, Promise): InvalidKeyError naming the path', () => {
    class Session {
      readonly #token: string;
      constructor(token: string) {
        this.#token = token;
      }
      get token(): string {
        return this.#token;
      }
    }
    assertOpaque(() => stableHash([new Session('a')]), /\$\[0\]: an instance of Session/);
    assertOpaque(() => stableHash([1, { session: new Session('a') }]), /\$\[1\]\.session/);
    assertOpaque(() => stableHash([new WeakMap()]), /\$\[0\]: an instance of WeakMap/);
    assertOpaque(() => stableHash([[Promise.resolve(1)]]), /\$\[0\]\[0\]: an instance of Promise/);
    assertOpaque(() => stableHash([new (class {})()]), /\$\[0\]: an instance of an anonymous class/);
  });
});

describe('stableHash: the canonical form cannot be forged by strings', () => {
  it('strings that spell out other encodings keep their own hash', () => {
    assertAllDistinct([
      new URL('https://a.test/x'),
      '~"URL"("https://a.test/x")',
      /a/g,
      '~"RegExp"("a","g")',
      new Error('a'),
      '~"Error"("Error","a",{})',
      new Int8Array([1]),
      'B"Int8Array"AQ==',
      new String('a'),
      '~"Boxed"("a")',
      new Date(1),
      'D1',
      Buffer.from('a'),
      'BYQ==',
    ]);
  });

  it('quotes, separators and tags inside strings do not shift boundaries', () => {
    assert.notEqual(stableHash(['a","b']), stableHash(['a', 'b']));
    assert.notEqual(stableHash([{ a: 'x",b:"y' }]), stableHash([{ a: 'x', b: 'y' }]));
    assert.notEqual(stableHash([{ 'a":1,"b': 2 }]), stableHash([{ a: 1, b: 2 }]));
    assert.notEqual(hash(new Error('a",{}),~"Error"("Error","b')), hash([new Error('a'), new Error('b')]));
    assert.notEqual(hash(new URL('https://a.test/"),~"URL"("x')), hash(new URL('https://a.test/')));
    assert.notEqual(hash(new RegExp('a","g')), hash(/a/g));
    assert.notEqual(hash(new Map([['a=>1', 2]])), hash(new Map([['a', '1=>2']])));
    assert.notEqual(hash('\ud800'), hash('\ud801'));
    assert.notEqual(hash('\ud800'), hash('\ufffd'));
  });

  it('numbers keep -0, NaN and the infinities deterministic and apart', () => {
    assert.equal(hash([NaN, Infinity, -Infinity, -0]), hash([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]));
    assertAllDistinct([0, -0, NaN, Infinity, -Infinity, 'NaN', 'Infinity', '-0', null]);
  });
});

describe('cached() with arguments keyed by these rules', () => {
  it('two URLs get their own entries and results', async () => {
    const clock = fakeClock();
    const cache = createCache({ store: memoryStore({ clock }), clock }, {});
    const fetched: string[] = [];
    const getPage = cached(
      async function getPage(url: URL): Promise<string> {
        fetched.push(url.href);
        return `page at ${url.pathname}`;
      },
      { cache },
    );
    assert.notEqual(getPage.keyFor(new URL('https://a.test/x')), getPage.keyFor(new URL('https://a.test/y')));
    assert.equal(await getPage(new URL('https://a.test/x')), 'page at /x');
    assert.equal(await getPage(new URL('https://a.test/y')), 'page at /y');
    assert.equal(await getPage(new URL('https://a.test/x')), 'page at /x');
    assert.equal(await getPage(new URL('https://a.test/y')), 'page at /y');
    assert.deepEqual(fetched, ['https://a.test/x', 'https://a.test/y']);
    assert.equal(cache.stats().hits, 2);
  });

  it('an opaque instance rejects with InvalidKeyError and never runs the function', async () => {
    const cache = createCache({ store: memoryStore() }, {});
    class Handle {
      readonly #id: number;
      constructor(id: number) {
        this.#id = id;
      }
      get id(): number {
        return this.#id;
      }
    }
    let runs = 0;
    const load = cached(
      async function load(handle: Handle): Promise<number> {
        runs++;
        return handle.id;
      },
      { cache },
    );
    await assert.rejects(() => load(new Handle(1)), InvalidKeyError);
    const keyed = cached(async (handle: Handle) => handle.id, { cache, key: (handle) => `handle:${handle.id}` });
    assert.equal(await keyed(new Handle(1)), 1);
    assert.equal(await keyed(new Handle(2)), 2);
    assert.equal(runs, 0);
  });
});
