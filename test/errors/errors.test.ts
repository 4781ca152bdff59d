import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as hoard from '../../src/index.js';
import { CacheClosedError, CacheError, CacheTimeoutError, ConfigError, createCache, InvalidKeyError, readEnv, SerializationError, stableHash, StoreError } from '../../src/index.js';
import type { CacheErrorCode } from '../../src/index.js';
import { toError } from '../../src/errors/index.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

const root = fileURLToPath(new URL('../../', import.meta.url));

/** One instance of every error class, built the way hoard builds them. */
const samples = {
  ConfigError: () => new ConfigError('ttl', 'must be greater than 0', { cause: new RangeError('inner') }),
  InvalidKeyError: () => new InvalidKeyError('a key must not be empty', { cause: 'why' }),
  SerializationError: () => new SerializationError('$.user.callback', 'a function cannot be serialized', { cause: new TypeError('inner') }),
  CacheTimeoutError: () => new CacheTimeoutError('user:1', 100),
  StoreError: () => new StoreError('incr', 'n', oomReply()),
  CacheClosedError: () => new CacheClosedError('get'),
} satisfies Record<string, () => CacheError>;

const expected: Record<keyof typeof samples, CacheErrorCode> = {
  ConfigError: 'HOARD_CONFIG',
  InvalidKeyError: 'HOARD_INVALID_KEY',
  SerializationError: 'HOARD_SERIALIZATION',
  CacheTimeoutError: 'HOARD_TIMEOUT',
  StoreError: 'HOARD_STORE',
  CacheClosedError: 'HOARD_CLOSED',
};

/** The reply Redis sends under `maxmemory … noeviction`, as ioredis raises it. */
function oomReply(): Error {
  const reply = new Error("OOM command not allowed when used memory > 'maxmemory'.");
  reply.name = 'ReplyError';
  return reply;
}

describe('error classes', () => {
  for (const [name, make] of Object.entries(samples)) {
    it(`${name} extends CacheError and Error, with its name and stable code`, () => {
      const error = make();
      assert.ok(error instanceof CacheError);
      assert.ok(error instanceof Error);
      assert.equal(error.name, name);
      assert.equal(error.code, expected[name as keyof typeof samples]);
      assert.equal(Object.getPrototypeOf(Object.getPrototypeOf(error)), CacheError.prototype);
      assert.equal(Object.prototype.toString.call(error), '[object Error]');
      assert.ok(typeof error.stack === 'string' && error.stack.startsWith(`${name}: `), error.stack);
      assert.equal(String(error), `${name}: ${error.message}`);
    });
  }

  it('keep their cause', () => {
    const inner = new RangeError('inner');
    assert.equal(new ConfigError('x', 'y', { cause: inner }).cause, inner);
    assert.equal(new InvalidKeyError('m', { cause: inner }).cause, inner);
    assert.equal(new SerializationError('$', 'm', { cause: inner }).cause, inner);
    assert.equal(new CacheError('HOARD_CONFIG', 'm', { cause: inner }).cause, inner);
    assert.equal(new CacheError('HOARD_CONFIG', 'm', { cause: 0 }).cause, 0);
    assert.equal(new CacheError('HOARD_CONFIG', 'm', { cause: null }).cause, null);
    assert.equal('cause' in new ConfigError('x', 'y'), false);
  });

  it('keep the cause of a real failure: a CACHE_REDIS_URL that does not parse', () => {
    assert.throws(
      () => readEnv({ CACHE_REDIS_URL: 'not a url' }),
      (error: unknown) => error instanceof ConfigError && error.cause instanceof TypeError,
    );
  });

  it('carry their details', () => {
    const config = new ConfigError('CACHE_MAXSIZE', 'expected a whole number >= 1, got "lots"');
    assert.equal(config.option, 'CACHE_MAXSIZE');
    assert.equal(config.message, 'CACHE_MAXSIZE: expected a whole number >= 1, got "lots"');
    const serialization = new SerializationError('$.user.tags[2]', 'a symbol cannot be serialized');
    assert.equal(serialization.path, '$.user.tags[2]');
    assert.equal(serialization.message, '$.user.tags[2]: a symbol cannot be serialized');
    const timeout = new CacheTimeoutError('user:1', 100);
    assert.equal(timeout.key, 'user:1');
    assert.equal(timeout.timeout, 100);
    assert.match(timeout.message, /"user:1".*100 ms/);
  });

  it('instanceof tells the classes apart', () => {
    const all = Object.values(samples).map((make) => make());
    const classes = [ConfigError, InvalidKeyError, SerializationError, CacheTimeoutError];
    for (const error of all) {
      for (const cls of classes) assert.equal(error instanceof cls, error.name === cls.name, `${error.name} instanceof ${cls.name}`);
    }
    assert.equal(new Error('x') instanceof CacheError, false);
    assert.equal(new TypeError('x') instanceof ConfigError, false);
    assert.equal(({ name: 'ConfigError', code: 'HOARD_CONFIG' }) instanceof ConfigError, false);
    assert.equal((null as unknown) instanceof CacheError, false);
    assert.equal(('ConfigError' as unknown) instanceof CacheError, false);
  });

  it('instanceof works for subclasses, also ones that rename themselves', () => {
    class AppConfigError extends ConfigError {}
    class RenamedError extends ConfigError {
      constructor() {
        super('x', 'y');
        this.name = 'RenamedError';
      }
    }
    const sub = new AppConfigError('x', 'y');
    assert.ok(sub instanceof AppConfigError);
    assert.ok(sub instanceof ConfigError);
    assert.ok(sub instanceof CacheError);
    assert.equal(sub instanceof InvalidKeyError, false);
    assert.equal(new ConfigError('x', 'y') instanceof AppConfigError, false);
    const renamed = new RenamedError();
    assert.ok(renamed instanceof RenamedError);
    assert.ok(renamed instanceof ConfigError);
    assert.ok(renamed instanceof CacheError);
    assert.equal(renamed.code, 'HOARD_CONFIG');
    assert.equal(new ConfigError('x', 'y') instanceof RenamedError, false);
  });

  it('errors thrown by the library are the right class with the right code', async () => {
    assert.throws(() => createCache({}, { CACHE_MAXSIZE: 'lots' }), { name: 'ConfigError', code: 'HOARD_CONFIG', option: 'CACHE_MAXSIZE' });
    const cache = createCache({}, {});
    await assert.rejects(() => cache.get(''), { name: 'InvalidKeyError', code: 'HOARD_INVALID_KEY' });
    await assert.rejects(() => cache.get('x'.repeat(1025)), InvalidKeyError);
    assert.throws(() => cache.namespace('a:b'), InvalidKeyError);
    await assert.rejects(() => cache.set('k', 1, { tags: [''] }), InvalidKeyError);
    await assert.rejects(
      () => cache.getOrSet('slow', () => new Promise<never>(() => {}), { timeout: { hard: 5 } }),
      (error: unknown) => error instanceof CacheTimeoutError && error.code === 'HOARD_TIMEOUT' && error.key === 'slow' && error.timeout === 5,
    );
    // A wrong argument type is a plain TypeError, not a CacheError.
    await assert.rejects(
      () => cache.set('k', undefined),
      (error: unknown) => error instanceof TypeError && !(error instanceof CacheError),
    );
  });

  it('toError wraps what is not an Error and passes Errors through', () => {
    const error = new Error('x');
    assert.equal(toError(error), error);
    const wrapped = toError('boom');
    assert.ok(wrapped instanceof Error);
    assert.equal(wrapped.cause, 'boom');
    assert.match(wrapped.message, /boom/);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.ok(toError(circular) instanceof Error);
  });
});

// ------------------------------------------------------------------------------------------------
// docs/errors.md must list exactly the codes of src/errors.

interface DocRow {
  code: string;
  className: string;
  when: string;
  example: string;
}

function cell(text: string): string {
  const t = text.trim();
  const match = /^(`+)\s?([\s\S]*?)\s?\1$/.exec(t);
  return match === null ? t : match[2]!;
}

/** The rows of the table under "## Codes" in docs/errors.md. */
function docRows(): DocRow[] {
  const doc = readFileSync(`${root}docs/errors.md`, 'utf8');
  const section = /^## Codes\s*$([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(doc);
  assert.ok(section !== null, 'docs/errors.md has a "## Codes" section');
  const lines = section[1]!.split('\n').filter((line) => line.trim().startsWith('|'));
  assert.ok(lines.length >= 3, 'the Codes section has a table');
  const header = lines[0]!.split('|').slice(1, -1).map((c) => c.trim().toLowerCase());
  assert.deepEqual(header, ['code', 'class', 'thrown when', 'example message']);
  return lines.slice(2).map((line) => {
    const cells = line.trim().split('|').slice(1, -1);
    assert.equal(cells.length, 4, `four cells in: ${line}`);
    const [code, className, when, example] = cells.map(cell) as [string, string, string, string];
    return { code, className, when, example };
  });
}

/** The codes of the CacheErrorCode union, and which class passes which code to CacheError. */
function sourceCodes(): { union: string[]; byClass: Map<string, string> } {
  const dir = `${root}src/errors/`;
  const base = readFileSync(`${dir}cache-error.ts`, 'utf8');
  const type = /export type CacheErrorCode\s*=([^;]+);/.exec(base);
  assert.ok(type !== null, 'cache-error.ts declares CacheErrorCode');
  const union = [...type[1]!.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]!);
  const byClass = new Map<string, string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(`${dir}${file}`, 'utf8');
    for (const match of text.matchAll(/class (\w+) extends CacheError\b[\s\S]*?super\(\s*'([A-Z_]+)'/g)) {
      byClass.set(match[1]!, match[2]!);
    }
  }
  return { union, byClass };
}

describe('docs/errors.md', () => {
  it('lists exactly the codes of src/errors, each once', () => {
    const rows = docRows();
    const documented = rows.map((r) => r.code);
    assert.equal(new Set(documented).size, documented.length, 'no code documented twice');
    const { union, byClass } = sourceCodes();
    assert.ok(union.length > 0);
    assert.deepEqual([...documented].sort(), [...union].sort(), 'codes of docs/errors.md vs the CacheErrorCode union');
    assert.deepEqual([...new Set(byClass.values())].sort(), [...union].sort(), 'codes used by the error classes vs the union');
  });

  it('names the class that throws each code', () => {
    const { byClass } = sourceCodes();
    for (const row of docRows()) {
      assert.equal(byClass.get(row.className), row.code, `${row.className} throws ${row.code}`);
      const cls = (hoard as Record<string, unknown>)[row.className];
      assert.equal(typeof cls, 'function', `${row.className} is exported by hoard`);
      assert.ok((cls as { prototype: unknown }).prototype instanceof CacheError);
      assert.ok(row.when.length > 20, `${row.code} says when it is thrown`);
      assert.ok(row.example.length > 0, `${row.code} has an example message`);
    }
  });

  it('documents every error class hoard exports', () => {
    const documented = new Set(docRows().map((r) => r.className));
    const exported = Object.entries(hoard)
      .filter(([, value]) => typeof value === 'function' && (value as { prototype: unknown }).prototype instanceof CacheError)
      .map(([name]) => name);
    assert.ok(exported.length > 0);
    for (const name of exported) assert.ok(documented.has(name), `${name} is in docs/errors.md`);
  });

  it('shows example messages that hoard really produces', () => {
    const real: Record<string, () => string> = {
      HOARD_CONFIG: () => messageOf(() => readEnv({ CACHE_MAXSIZE: 'lots' })),
      HOARD_INVALID_KEY: () => messageOf(() => stableHash([{ callback: () => 1 }])),
      HOARD_SERIALIZATION: () => new SerializationError('$.user.callback', 'a function cannot be serialized').message,
      HOARD_TIMEOUT: () => new CacheTimeoutError('user:1', 100).message,
      HOARD_STORE: () => new StoreError('incr', 'n', oomReply()).message,
      HOARD_CLOSED: () => new CacheClosedError('get').message,
    };
    for (const row of docRows()) {
      const produce = real[row.code];
      assert.ok(produce !== undefined, `a real message for ${row.code}`);
      assert.equal(row.example, produce(), `example message of ${row.code}`);
    }
  });
});

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CacheError);
    return error.message;
  }
  assert.fail('expected a throw');
}
