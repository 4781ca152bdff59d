import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { InvalidKeyError } from '../../src/errors/invalid-key-error.js';
import { checkGlob, compileGlob, escapeGlob } from '../../src/util/glob.js';
import { startRedis } from '../harness/index.js';
import type { RedisProcess } from '../harness/index.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

const matches = (pattern: string, key: string): boolean => compileGlob(pattern)(key);

/** Small seeded PRNG, so a failing differential run can be replayed exactly. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = ['a', 'b', 'c', 'x', 'Z', '*', '?', '[', ']', '^', '-', '\\', 'é', 'ü', '€', '😀'];
const OPERATORS = ['*', '?', '[', ']', '^', '-', '\\', '[^', '**'];

describe('compileGlob: byte semantics of Redis stringmatchlen', () => {
  it('? is one byte: it does not match a 2-byte character, ?? does', () => {
    assert.equal(matches('?', 'é'), false);
    assert.equal(matches('??', 'é'), true);
    assert.equal(matches('???', 'é'), false);
    assert.equal(matches('????', '😀'), true);
    assert.equal(matches('???', '€'), true);
    assert.equal(matches('?', 'a'), true);
    assert.equal(matches('?', 'ab'), false);
  });

  it('a class matches one byte, so [é] never matches the 2-byte key é', () => {
    assert.equal(matches('[é]', 'é'), false);
    assert.equal(matches('[é]?', 'é'), true); // first byte in the class, second any
    assert.equal(matches('[é][é]', 'é'), true); // both bytes are members
    assert.equal(matches('é', 'é'), true);
  });

  it('[^a] negates, also per byte', () => {
    assert.equal(matches('[^a]', 'b'), true);
    assert.equal(matches('[^a]', 'a'), false);
    assert.equal(matches('[^a]', 'é'), false); // two bytes
    assert.equal(matches('[^a][^a]', 'é'), true);
    assert.equal(matches('[!a]', '!'), true); // `!` is not a negation in Redis
    assert.equal(matches('[!a]', 'b'), false);
  });

  it('a ] right after [ or [^ closes the class: [] is empty, a[]]b never matches a]b', () => {
    assert.equal(matches('a[]]b', 'a]b'), false);
    assert.equal(matches('a[]]b', 'a]]b'), false);
    assert.equal(matches('[]', ''), false);
    assert.equal(matches('[]', 'a'), false);
    assert.equal(matches('[]]', ']'), false);
    assert.equal(matches('[^]', 'x'), true); // empty negated class: any byte
    assert.equal(matches('[^]]', 'x]'), true);
    assert.equal(matches('[\\]]', ']'), true);
  });

  it('ranges: [z-a] is swapped, [a-] and [-a] as C reads them', () => {
    assert.equal(matches('[z-a]', 'm'), true);
    assert.equal(matches('[a-z]', 'm'), true);
    assert.equal(matches('[z-a]', 'A'), false);
    // `a-]` is a range up to `]`, so the class is still open and ends with the pattern.
    assert.equal(matches('[a-]', 'b'), false);
    assert.equal(matches('[a-]', ']'), true);
    assert.equal(matches('[-a]', '-'), true);
    assert.equal(matches('[-a]', 'a'), true);
  });

  it('range bounds compare as signed C chars: a byte >= 0x80 sorts below ASCII', () => {
    // [a-é] is the range a..0xC3 (-61), swapped to -61..97, then 0xA9 as a member.
    assert.equal(matches('[a-é]', 'a'), true);
    assert.equal(matches('[a-é]', 'A'), true); // 65 is inside -61..97
    assert.equal(matches('[a-é]', 'b'), false);
    assert.equal(matches('[a-é]?', 'é'), true); // 0xC3 itself
    assert.equal(matches('[a-é]?', 'ü'), true); // 0xC3 again (ü is C3 BC)
    assert.equal(matches('[a-é]???', '😀'), true); // 0xF0 is -16
  });

  it('\\ escapes outside and inside classes; a trailing lone \\ matches a backslash', () => {
    assert.equal(matches('\\*', '*'), true);
    assert.equal(matches('\\*', 'a'), false);
    assert.equal(matches('\\?', '?'), true);
    assert.equal(matches('\\?', 'x'), false);
    assert.equal(matches('a\\', 'a\\'), true);
    assert.equal(matches('\\', '\\'), true);
    assert.equal(matches('\\\\', '\\'), true);
    assert.equal(matches('[\\-]', '-'), true);
    assert.equal(matches('[\\', '\\'), true);
    assert.equal(matches('\\é', 'é'), true);
  });

  it('an unterminated [ ends the class at the end of the pattern', () => {
    assert.equal(matches('[abc', 'a'), true);
    assert.equal(matches('[abc', 'c'), true);
    assert.equal(matches('[abc', 'd'), false);
    assert.equal(matches('[abc', '['), false);
    assert.equal(matches('[abc', 'ab'), false);
    assert.equal(matches('[', 'a'), false);
    assert.equal(matches('[^', 'a'), true);
    assert.equal(matches('x[^', 'x'), false);
  });

  it('* and **: runs collapse, trailing stars match the empty rest', () => {
    assert.equal(matches('*', 'anything'), true);
    assert.equal(matches('**', 'anything'), true);
    assert.equal(matches('a*', 'a'), true);
    assert.equal(matches('a**', 'a'), true);
    assert.equal(matches('*a', 'a'), true);
    assert.equal(matches('*a', 'ba'), true);
    assert.equal(matches('*a', 'ab'), false);
    assert.equal(matches('a*b*c', 'aXbYc'), true);
    assert.equal(matches('a*b*c', 'aXbY'), false);
    assert.equal(matches('*é', 'café'), true);
    assert.equal(matches('*?', 'é'), true);
  });

  it('empty key and empty pattern', () => {
    assert.equal(matches('', ''), true);
    assert.equal(matches('', 'a'), false);
    assert.equal(matches('a', ''), false);
    assert.equal(matches('?', ''), false);
    // SCAN/KEYS special-case the whole pattern `*` (it returns the empty key); `**` goes through
    // stringmatchlen, which never matches an empty key.
    assert.equal(matches('*', ''), true);
    assert.equal(matches('**', ''), false);
    assert.equal(matches('*a', ''), false);
  });

  it('keys with NUL, CRLF and emoji', () => {
    assert.equal(matches('a?b', 'a\0b'), true);
    assert.equal(matches('a\0b', 'a\0b'), true);
    assert.equal(matches('a*', 'a\0'), true);
    assert.equal(matches('[\0]', '\0'), true);
    assert.equal(matches('line\r\n*', 'line\r\nmore'), true);
    assert.equal(matches('?', '\n'), true);
    assert.equal(matches('*\r\n', 'x\r\n'), true);
    assert.equal(matches('😀', '😀'), true);
    assert.equal(matches('*😀*', 'a😀b'), true);
    assert.equal(matches('?😀', 'é😀'), false);
    assert.equal(matches('??😀', 'é😀'), true);
    assert.equal(matches('[😀]???', '😀'), true);
  });

  it('ASCII pattern on a non-ASCII key and the reverse use the same bytes', () => {
    const ascii = compileGlob('a??');
    assert.equal(ascii('aé'), true);
    assert.equal(ascii('abc'), true);
    const wide = compileGlob('é*');
    assert.equal(wide('éa'), true);
    assert.equal(wide('ea'), false);
  });

  it('stays polynomial on patterns that are exponential for naive backtracking', () => {
    const started = performance.now();
    assert.equal(matches(`${'a*'.repeat(40)}b`, 'a'.repeat(200)), false);
    assert.equal(matches('*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(4000)), false);
    assert.equal(matches(`${'*?'.repeat(30)}b`, 'é'.repeat(200)), false);
    assert.ok(performance.now() - started < 1_000);
  });

  it('more than 1000 nested * give no match, as in Redis', () => {
    assert.equal(matches(`${'a*'.repeat(1000)}a`, 'a'.repeat(1001)), true);
    assert.equal(matches(`${'a*'.repeat(1001)}a`, 'a'.repeat(1002)), false);
  });
});

describe('escapeGlob', () => {
  const random = mulberry32(0x5eed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const EXTRA = ['\0', '\r', '\n', ':', ' ', 'A'];
  const randomText = (max: number): string => {
    let out = '';
    const length = Math.floor(random() * (max + 1));
    for (let i = 0; i < length; i++) out += pick(random() < 0.8 ? ALPHABET : EXTRA);
    return out;
  };

  it('compileGlob(escapeGlob(s)) matches s, including glob characters', () => {
    for (const s of ['', '*', '?', '[', ']', '\\', '[]', '\\*', 'a[b]c', '[^a]', '*?[]\\', 'é😀', '\0']) {
      assert.ok(matches(escapeGlob(s), s), JSON.stringify(s));
    }
    for (let n = 0; n < 2_000; n++) {
      const s = randomText(10);
      assert.ok(matches(escapeGlob(s), s), JSON.stringify(s));
    }
  });

  it('escapeGlob(prefix) + * matches exactly the keys starting with prefix', () => {
    const keys = ['', ...Array.from({ length: 200 }, () => randomText(6))];
    const prefixes = ['', '*', '\\', '[', ...Array.from({ length: 100 }, () => randomText(3))];
    for (const prefix of prefixes) {
      const test = compileGlob(`${escapeGlob(prefix)}*`);
      for (const key of [...keys, prefix, `${prefix}x`]) {
        assert.equal(test(key), key.startsWith(prefix), `prefix ${JSON.stringify(prefix)}, key ${JSON.stringify(key)}`);
      }
    }
  });
});

describe('checkGlob', () => {
  it('TypeError unless a non-empty string, naming the operation', () => {
    for (const bad of [undefined, null, 1, {}, [], '']) {
      assert.throws(
        () => checkGlob(bad, 'deletePattern'),
        (e: unknown) => e instanceof TypeError && e.message.includes('deletePattern'),
      );
    }
  });

  it('InvalidKeyError for lone surrogates and patterns over 4096 UTF-8 bytes', () => {
    for (const bad of ['a\uD800', '\uDC00*', `${'é'.repeat(2048)}a`, 'x'.repeat(4097)]) {
      assert.throws(
        () => checkGlob(bad, 'invalidate'),
        (e: unknown) => e instanceof InvalidKeyError && e.message.includes('invalidate'),
      );
    }
  });

  it('accepts well-formed patterns up to 4096 bytes', () => {
    for (const good of ['*', 'a?[b-c]\\*', '😀*', 'é'.repeat(2048), 'x'.repeat(4096)]) {
      assert.doesNotThrow(() => checkGlob(good, 'deletePattern'));
    }
  });
});


describe('compileGlob agrees with a real Redis SCAN MATCH', () => {
  let server: RedisProcess;
  let client: Redis;

  before(async () => {
    server = await startRedis();
    client = new Redis({ host: server.host, port: server.port, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
  });
  after(async () => {
    client.disconnect();
    await server.stop();
  });

  async function scanMatch(pattern: string): Promise<Set<string>> {
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 100_000);
      for (const key of keys) found.add(key);
      cursor = next;
    } while (cursor !== '0');
    return found;
  }

  it('random keys and patterns over ASCII, glob characters and multi-byte characters', async () => {
    const random = mulberry32(20240611);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    const text = (min: number, max: number, units: readonly string[]): string => {
      let out = '';
      const length = min + Math.floor(random() * (max - min + 1));
      for (let i = 0; i < length; i++) out += pick(units);
      return out;
    };

    const keySet = new Set<string>(['', 'a', 'é', 'ü', '€', '😀', '\\', ']', '[', '*', '?', 'a\0b', '\0', 'x\r\ny', 'a]b', 'a]]b', 'm']);
    keySet.add('a'.repeat(1001)).add('a'.repeat(1002)).add('a'.repeat(300));
    while (keySet.size < 320) keySet.add(text(1, 6, ALPHABET));
    const keys = [...keySet];

    const patterns: string[] = [
      '*', '**', '***', '?', '??', '???', '????', '*?', '?*', '[]', '[]]', 'a[]]b', '[^]', '[^]]', '[]a]', '[z-a]',
      '[a-z]', '[a-]', '[-a]', '[a-é]', '[é-a]', '[a-é]?', '[€-😀]*', '[😀]*', '[é]', '[é]?', '[^a]', '[^a]?', '[!a]',
      '\\*', '\\?', '\\[', '\\]', '\\', 'a\\', '\\\\', '[\\]]', '[\\', '[\\]', '[^\\]]', '[', '[^', '[abc', 'x[^', '*[',
      '[*]', '[?]', '[[]', '[^*?]*', '*é', 'é*', '*é*', '?é', '*😀', '😀?', '[a-z]*[^a-z]', '*\\*', '*\\', 'a*\\*',
      '[\0]?', 'a\0*', '*\r\n*', '?\0?', `${'a*'.repeat(1000)}a`, `${'a*'.repeat(1001)}a`, `${'a*'.repeat(40)}b`, '[^-]',
      '[--]', '[---]', '[]-a]', '[^]-a]', '[a-]]', '[\\a-z]', '[a\\-z]', '[^^]', '[^^a]', '^*', '-*', '*]',
    ];
    const classOf = (unit: string): string => {
      const members = text(0, 2, ALPHABET) + (random() < 0.7 ? unit : '');
      const range = random() < 0.4 ? `${pick(ALPHABET)}-${pick(ALPHABET)}` : '';
      return `[${random() < 0.3 ? '^' : ''}${members}${range}${random() < 0.9 ? ']' : ''}`;
    };
    while (patterns.length < 680) {
      const kind = random();
      if (kind < 0.35) {
        patterns.push(text(1, 8, random() < 0.5 ? ALPHABET : [...ALPHABET, ...OPERATORS, ...OPERATORS]));
      } else if (kind < 0.8) {
        // Derived from a key, so that a good share of patterns match something.
        let pattern = '';
        for (const unit of pick(keys)) {
          const roll = random();
          if (roll < 0.5) pattern += unit;
          else if (roll < 0.62) pattern += '?';
          else if (roll < 0.72) pattern += '*';
          else if (roll < 0.86) pattern += classOf(unit);
          else pattern += escapeGlob(unit);
        }
        if (random() < 0.3) pattern += '*';
        patterns.push(pattern);
      } else {
        let pattern = '';
        const parts = 1 + Math.floor(random() * 3);
        for (let i = 0; i < parts; i++) pattern += random() < 0.6 ? classOf(pick(ALPHABET)) : pick(OPERATORS);
        patterns.push(pattern);
      }
    }

    await client.flushall();
    const values: string[] = [];
    for (const key of keys) values.push(key, '1');
    await client.mset(...values);
    assert.equal(await client.dbsize(), keys.length);

    let nonEmpty = 0;
    for (const pattern of patterns) {
      const expected = await scanMatch(pattern);
      const test = compileGlob(pattern);
      if (expected.size > 0) nonEmpty++;
      for (const key of keys) {
        const redis = expected.has(key);
        if (test(key) !== redis) {
          assert.fail(
            `pattern ${JSON.stringify(pattern)} on key ${JSON.stringify(key)}: Redis ${redis ? 'matches' : 'does not match'}, compileGlob ${redis ? 'does not' : 'does'}`,
          );
        }
      }
    }
    // Guards against a generator drift that would make the comparison vacuous.
    assert.ok(nonEmpty > 200, `only ${nonEmpty} patterns matched any key`);
  });
});
