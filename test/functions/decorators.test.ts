import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { cache as defaultCache, Cached, createCache, InvalidatesCache, InvalidKeyError, memoryStore, stableHash } from '../../src/index.js';
import { resetDefaultCache } from '../../src/cache/default-cache.js';
import { fakeClock } from '../helpers/clock.js';
import { guardProcess } from '../helpers/guard.js';

guardProcess();

interface User {
  id: number;
  name: string;
}

function setup(): { store: ReturnType<typeof memoryStore>; cache: ReturnType<typeof createCache>; clock: ReturnType<typeof fakeClock> } {
  const clock = fakeClock();
  const store = memoryStore({ clock });
  return { store, cache: createCache({ store, clock }, {}), clock };
}

describe('@Cached', () => {
  it('calls the method once for equal arguments', async () => {
    const { cache } = setup();
    class Users {
      calls: number[] = [];
      @Cached({ cache })
      async find(id: number): Promise<User> {
        this.calls.push(id);
        return { id, name: `user${id}` };
      }
    }
    const users = new Users();
    assert.deepEqual(await users.find(1), { id: 1, name: 'user1' });
    assert.deepEqual(await users.find(1), { id: 1, name: 'user1' });
    assert.deepEqual(await users.find(2), { id: 2, name: 'user2' });
    assert.deepEqual(users.calls, [1, 2]);
    assert.equal(cache.stats().hits, 1);
    assert.equal(cache.stats().misses, 2);
  });

  it('runs the method once for concurrent equal calls', async () => {
    const { cache } = setup();
    let runs = 0;
    class Slow {
      @Cached({ cache })
      async load(id: string): Promise<string> {
        runs++;
        await new Promise((resolve) => setTimeout(resolve, 5));
        return id.toUpperCase();
      }
    }
    const slow = new Slow();
    assert.deepEqual(await Promise.all([slow.load('a'), slow.load('a'), slow.load('a')]), ['A', 'A', 'A']);
    assert.equal(runs, 1);
  });

  it('keys default to ClassName.method plus the argument hash', async () => {
    const { cache, store } = setup();
    class Catalog {
      @Cached({ cache })
      async product(id: number, options: { lang: string; full: boolean }): Promise<string> {
        return `${id}:${options.lang}`;
      }
    }
    const catalog = new Catalog();
    await catalog.product(7, { lang: 'en', full: true });
    await catalog.product(7, { full: true, lang: 'en' }); // same arguments, other key order
    assert.equal(cache.stats().hits, 1);
    const key = `Catalog.product:${stableHash([7, { lang: 'en', full: true }])}`;
    assert.deepEqual([...store.keys()], [key]);
    assert.equal(await cache.get(key), '7:en');
  });

  it('methods of different classes with the same name do not share entries', async () => {
    const { cache, store } = setup();
    class A {
      @Cached({ cache })
      async get(id: number): Promise<string> {
        return `a${id}`;
      }
    }
    class B {
      @Cached({ cache })
      async get(id: number): Promise<string> {
        return `b${id}`;
      }
    }
    assert.equal(await new A().get(1), 'a1');
    assert.equal(await new B().get(1), 'b1');
    assert.deepEqual(new Set(store.keys()), new Set([`A.get:${stableHash([1])}`, `B.get:${stableHash([1])}`]));
  });

  it('the `key` option chooses the key exactly', async () => {
    const { cache, store } = setup();
    class Users {
      @Cached({ cache, key: (id: number) => `user:${id}` })
      async find(id: number): Promise<User> {
        return { id, name: 'x' };
      }
    }
    await new Users().find(42);
    assert.deepEqual([...store.keys()], ['user:42']);
    assert.deepEqual(await cache.get('user:42'), { id: 42, name: 'x' });
  });

  it('arguments that cannot be hashed reject with InvalidKeyError; with `key` they are fine', async () => {
    const { cache } = setup();
    let runs = 0;
    class Jobs {
      @Cached({ cache })
      async run(callback: () => number): Promise<number> {
        runs++;
        return callback();
      }
      @Cached({ cache, key: () => 'jobs:fixed' })
      async runKeyed(callback: () => number): Promise<number> {
        runs++;
        return callback();
      }
    }
    const jobs = new Jobs();
    await assert.rejects(() => jobs.run(() => 1), InvalidKeyError);
    assert.equal(runs, 0);
    assert.equal(await jobs.runKeyed(() => 2), 2);
    assert.equal(await jobs.runKeyed(() => 3), 2);
    assert.equal(runs, 1);
  });

  it('`this` is the instance', async () => {
    const { cache } = setup();
    class Greeter {
      constructor(readonly greeting: string) {}
      @Cached({ cache, key: (name: string) => `greet:${name}` })
      async greet(name: string): Promise<string> {
        assert.ok(this instanceof Greeter);
        return `${this.greeting}, ${name}`;
      }
    }
    const hello = new Greeter('Hello');
    assert.equal(await hello.greet('Ada'), 'Hello, Ada');
    // The entry is shared by key: a second instance gets the first one's cached answer.
    assert.equal(await new Greeter('Hi').greet('Ada'), 'Hello, Ada');
    assert.equal(await new Greeter('Hi').greet('Bob'), 'Hi, Bob');
  });

  it('works on static methods, keyed by the class name', async () => {
    const { cache, store } = setup();
    class Config {
      static loads = 0;
      static prefix = 'cfg';
      @Cached({ cache })
      static async load(name: string): Promise<string> {
        this.loads++;
        return `${this.prefix}:${name}`;
      }
    }
    assert.equal(await Config.load('db'), 'cfg:db');
    assert.equal(await Config.load('db'), 'cfg:db');
    assert.equal(Config.loads, 1);
    assert.deepEqual([...store.keys()], [`Config.load:${stableHash(['db'])}`]);
  });

  it('honours `ttl` and `tags`', async () => {
    const { cache, clock } = setup();
    let runs = 0;
    class Repo {
      @Cached({ cache, ttl: '10s', tags: (id: number) => [`repo:${id}`] })
      async find(id: number): Promise<number> {
        runs++;
        return id;
      }
    }
    const repo = new Repo();
    await repo.find(1);
    clock.advance(9_999);
    await repo.find(1);
    assert.equal(runs, 1);
    clock.advance(1);
    await repo.find(1);
    assert.equal(runs, 2);
    assert.equal(await cache.invalidateTags(['repo:1']), 1);
    await repo.find(1);
    assert.equal(runs, 3);
  });

  it('a method that throws rejects with the same error and caches nothing', async () => {
    const { cache, store } = setup();
    const boom = new Error('boom');
    let runs = 0;
    class Flaky {
      @Cached({ cache })
      async fetch(): Promise<number> {
        runs++;
        throw boom;
      }
    }
    const flaky = new Flaky();
    await assert.rejects(
      () => flaky.fetch(),
      (error) => error === boom,
    );
    await assert.rejects(
      () => flaky.fetch(),
      (error) => error === boom,
    );
    assert.equal(runs, 2);
    assert.equal(store.size, 0);
  });

  it('uses the default cache without a `cache` option', async () => {
    await resetDefaultCache();
    try {
      let runs = 0;
      class Defaulted {
        @Cached()
        async value(): Promise<string> {
          runs++;
          return 'v';
        }
      }
      const d = new Defaulted();
      await d.value();
      await d.value();
      assert.equal(runs, 1);
      assert.equal(await defaultCache.get(`Defaulted.value:${stableHash([])}`), 'v');
    } finally {
      await resetDefaultCache();
    }
  });
});

describe('@InvalidatesCache', () => {
  afterEach(() => resetDefaultCache());

  it('deletes keys and invalidates tags after the method resolves', async () => {
    const { cache } = setup();
    await cache.set('user:1', 'old');
    await cache.set('user:2', 'other');
    await cache.set('list', [1], { tags: ['users'] });
    await cache.set('count', 1, { tags: ['users', 'stats'] });
    const seenDuringMethod: boolean[] = [];
    class Users {
      @InvalidatesCache({ cache, keys: (id: number) => [`user:${id}`], tags: () => ['users'] })
      async update(id: number, name: string): Promise<string> {
        // Invalidation happens after the method, so the entries are still there while it runs.
        seenDuringMethod.push(await cache.has(`user:${id}`), await cache.has('list'));
        return `${id}=${name}`;
      }
    }
    assert.equal(await new Users().update(1, 'Ada'), '1=Ada');
    assert.deepEqual(seenDuringMethod, [true, true]);
    assert.equal(await cache.has('user:1'), false);
    assert.equal(await cache.has('user:2'), true);
    assert.equal(await cache.has('list'), false);
    assert.equal(await cache.has('count'), false);
  });

  it('invalidates only after the returned promise settles', async () => {
    const { cache } = setup();
    await cache.set('k', 1);
    let release!: () => void;
    class Slow {
      @InvalidatesCache({ cache, keys: () => ['k'] })
      async write(): Promise<void> {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      }
    }
    const pending = new Slow().write();
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal(await cache.has('k'), true);
    release();
    await pending;
    assert.equal(await cache.has('k'), false);
  });

  it('does not invalidate when the method throws, and rethrows the same error', async () => {
    const { cache } = setup();
    await cache.set('user:1', 'keep', { tags: ['users'] });
    const boom = new Error('write failed');
    class Users {
      @InvalidatesCache({ cache, keys: (id: number) => [`user:${id}`], tags: () => ['users'] })
      async update(_id: number): Promise<void> {
        throw boom;
      }
    }
    await assert.rejects(
      () => new Users().update(1),
      (error) => error === boom,
    );
    assert.equal(await cache.get('user:1'), 'keep');
  });

  it('pairs with @Cached: the next read runs the method again', async () => {
    const { cache } = setup();
    const db = new Map<number, string>([[1, 'Ada']]);
    let reads = 0;
    class Users {
      @Cached({ cache, key: (id: number) => `user:${id}`, tags: (id: number) => [`user:${id}`] })
      async find(id: number): Promise<string | undefined> {
        reads++;
        return db.get(id);
      }
      @InvalidatesCache({ cache, tags: (id: number) => [`user:${id}`] })
      async rename(id: number, name: string): Promise<void> {
        db.set(id, name);
      }
    }
    const users = new Users();
    assert.equal(await users.find(1), 'Ada');
    assert.equal(await users.find(1), 'Ada');
    await users.rename(1, 'Grace');
    assert.equal(await users.find(1), 'Grace');
    assert.equal(reads, 2);
  });

  it('works on static methods and with the default cache', async () => {
    await resetDefaultCache();
    await defaultCache.set('settings', { a: 1 });
    class Settings {
      @InvalidatesCache({ keys: () => ['settings'] })
      static async save(): Promise<string> {
        return this.name;
      }
    }
    assert.equal(await Settings.save(), 'Settings');
    assert.equal(await defaultCache.has('settings'), false);
  });
});
