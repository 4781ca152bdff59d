/**
 * The `hoard` command line: options, commands and their help. Nothing here loads more than
 * commander: each command's code, and the Redis client behind it, are imported when it runs, so
 * `hoard --help` starts fast.
 */
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import type { Context, GlobalOptions } from './context.js';

/** What an action does once the context is built; resolves to the exit code (0 or 1). */
type Run = (ctx: Context) => Promise<number | void>;

/** Runs a command: builds its context from the global options, then hands over. */
export type Dispatch = (globals: GlobalOptions, run: Run) => Promise<void>;

const TARGET_HELP = `
Target (give one; default: Redis as the CACHE_* / REDIS_* environment says):
  a Redis          --redis-url URL | --cluster host:port,...  [--prefix p]
                   (environment: CACHE_REDIS_URL or REDIS_URL, REDIS_HOST/PORT/DB/USERNAME/PASSWORD,
                   CACHE_REDIS_CLUSTER_NODES, CACHE_KEY_PREFIX; prefix default "hoard:")
  a service        --admin http://host:port/admin/cache  --token T  (or HOARD_ADMIN_TOKEN)
                   its admin routes: also memory-only caches and per-instance memory figures

Exit codes: 0 done, 1 the operation failed (Redis unreachable, bad token, ...), 2 usage error.`;

function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

/** A whole number >= `min`, for option parsers. */
function wholeNumber(min: number, what: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value))) {
      throw new InvalidArgumentError(`expected ${what} (a whole number >= ${min}), got ${JSON.stringify(value)}`);
    }
    return Number(value);
  };
}

/** A number of seconds > 0, for option parsers. */
function seconds(value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value) || Number(value) <= 0) throw new InvalidArgumentError(`expected a number of seconds > 0, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Repeatable options collect into a list. */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function buildProgram(dispatch: Dispatch, version: string) {
  const program = new Command('hoard')
    .description('Inspect, invalidate, warm, benchmark and check a hoard cache: in Redis directly, or through a running service\'s admin routes.')
    .usage('[target options] <command> [options]')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help (every command has its own, with examples)')
    .addOption(new Option('--redis-url <url>', 'Redis to act on (redis:// or rediss://)'))
    .addOption(new Option('--cluster <nodes>', 'Redis Cluster seed nodes: host:port,host:port'))
    .addOption(new Option('--prefix <prefix>', 'key prefix of the cache in Redis (default: CACHE_KEY_PREFIX, else "hoard:")'))
    .addOption(new Option('--admin <url>', 'a service\'s admin routes instead of Redis, e.g. http://localhost:3000/admin/cache'))
    .addOption(new Option('--token <token>', 'bearer token of the admin routes (default: HOARD_ADMIN_TOKEN)'))
    .addOption(new Option('--cache <name>', 'with --admin: which cache, when the routes serve several'))
    .addOption(new Option('--timeout <duration>', 'deadline of each Redis or HTTP call').default('30s'))
    .addOption(new Option('--no-bus', 'do not tell services running two tiers (over the invalidation bus) what changed'))
    .addOption(new Option('--json', 'print results as JSON, for scripts'))
    .showHelpAfterError('(run with --help for usage)')
    // Set before the commands are added, which inherit it: commander then throws instead of
    // exiting, and main() turns its complaints into exit code 2.
    .exitOverride()
    .addHelpText('after', `${TARGET_HELP}\n${examples(
      'hoard --redis-url redis://localhost:6379 stats',
      'CACHE_REDIS_URL=redis://cache:6379 hoard keys "user:*" --limit 20',
      'hoard --admin http://localhost:3000/admin/cache --token "$TOKEN" get user:42',
      'hoard invalidate --tag tenant:7 --pattern "report:2024-*"',
      'hoard warm ./warm/products.mjs --concurrency 32',
      'hoard doctor',
    )}`);

  program
    .command('stats')
    .description('the cache\'s figures (CacheStats) and Redis\' own; --watch refreshes them in place')
    .addOption(new Option('--watch [interval]', 'refresh every interval until interrupted (seconds, or a duration such as 500ms; default 2s)'))
    .addHelpText('after', examples('hoard stats', 'hoard stats --watch', 'hoard stats --watch 500ms', 'hoard --admin http://localhost:3000/admin/cache stats --json'))
    .action(async (options, command) => {
      await dispatch(command.optsWithGlobals(), async (ctx) => (await import('./commands/stats.js')).stats(ctx, options));
    });

  program
    .command('get')
    .description('a key: its value (pretty-printed), TTL left, grace, tags, size and which tier holds it')
    .argument('<key>', 'the key, without the prefix')
    .addHelpText('after', examples('hoard get user:42', 'hoard get user:42 --json | jq .value'))
    .action(async (key, _options, command) => {
      await dispatch(command.optsWithGlobals(), async (ctx) => (await import('./commands/get.js')).get(ctx, key));
    });

  program
    .command('keys')
    .description('keys of the cache matching a glob, one a line; pages through Redis with SCAN (never KEYS)')
    .argument('[glob]', 'Redis glob relative to the prefix: * ? [abc] [a-z] \\x', '*')
    .addOption(new Option('--limit <n>', 'stop after n keys').argParser(wholeNumber(1, 'a count')))
    .addHelpText('after', examples('hoard keys', 'hoard keys "user:*" --limit 100', 'hoard keys "session:*" | wc -l', 'hoard keys "user:?" --json'))
    .action(async (glob, options, command) => {
      await dispatch(command.optsWithGlobals(), async (ctx) => (await import('./commands/keys.js')).keys(ctx, glob, options));
    });

  program
    .command('ttl')
    .description('time left before a key turns stale: ms, Infinity (no expiry) or absent')
    .argument('<key>', 'the key, without the prefix')
    .addHelpText('after', examples('hoard ttl user:42', 'hoard ttl user:42 --json'))
    .action(async (key, _options, command) => {
      await dispatch(command.optsWithGlobals(), async (ctx) => (await import('./commands/ttl.js')).ttl(ctx, key));
    });

  program
    .command('del')
    .description('deletes keys (in every tier and, through the bus, every instance) and prints the count')
    .argument('<keys...>', 'keys, without the prefix')
    .addHelpText('after', examples('hoard del user:42', 'hoard del user:42 user:43 --json'))
    .action(async (keys, _options, command) => {
      await dispatch(command.optsWithGlobals(), async (ctx) => (await import('./commands/del.js')).del(ctx, keys));
    });

  program
    .command('invalidate')
    .description('removes entries by tag, glob pattern or key, and prints the count removed')
    .addOption(new Option('--tag <tag>', 'entries set with this tag (repeatable)').argParser(collect))
    .addOption(new Option('--pattern <glob>', 'keys matching this glob (relative to the prefix)'))
    .addOption(new Option('--key <key>', 'this key (repeatable)').argParser(collect))
    .addOption(new Option('--dry-run', 'count what would be removed, remove nothing'))
    .addHelpText(
      'after',
      `${examples('hoard invalidate --tag tenant:7', 'hoard invalidate --tag products --tag prices', 'hoard invalidate --pattern "report:2024-*" --dry-run', 'hoard invalidate --key user:1 --key user:2')}
In Redis, tagged entries are invalidated lazily (each is dropped when next read), so the count
does not include them.`,
    )
    .action(async (options, command) => {
      await dispatch(command.optsWithGlobals(), async (ctx) => (await import('./commands/invalidate.js')).invalidate(ctx, options));
    });

  program
    .command('clear')
    .description('clears the cache\'s namespace (only its prefix, never the whole database); needs --yes')
    .addOption(new Option('--yes', 'really clear; without it, says what would be cleared and exits with 2'))
    .addHelpText('after', examples('hoard clear', 'hoard --prefix shop: clear --yes'))
    .action(async (options, command) => {
      await dispatch(command.optsWithGlobals(), async (ctx) => (await import('./commands/clear.js')).clear(ctx, options));
    });

  program
    .command('warm')
    .description('fills the cache from a module whose default export yields { key, value } or { key, factory } (with optional ttl, tags)')
    .argument('<module>', 'path of an ES or CommonJS module')
    .addOption(new Option('--concurrency <n>', 'factories running at once, and batches written at once').argParser(wholeNumber(1, 'a count')).default(16))
    .addOption(new Option('--batch <n>', 'entries per pipelined, transactional write').argParser(wholeNumber(1, 'a count')).default(500))
    .addOption(new Option('--ttl <duration>', 'TTL of items without one (default: the environment\'s CACHE_TTL_SECONDS, else 5m)'))
    .addOption(new Option('--resume', 'continue an interrupted run from its checkpoint: items already written are skipped'))
    .addOption(new Option('--restart', 'discard an existing checkpoint and start over'))
    .addOption(new Option('--checkpoint <file>', 'checkpoint file (default: .hoard-warm-<hash>.json in the current directory)'))
    .addHelpText(
      'after',
      `${examples('hoard warm ./warm/products.mjs', 'hoard warm ./warm/products.mjs --concurrency 4 --ttl 1h', 'hoard warm ./warm/products.mjs --resume')}
The module's default export is an iterable or async iterable (or a function returning one) of
  { key, value, ttl?, tags? }  or  { key, factory: () => value | Promise<value>, ttl?, tags? }
It must yield the same items in the same order on every run, for --resume to skip the right ones.
Export \`total\` (a number) for a percentage. Progress goes to stderr: a bar on a terminal, a
status line every 10% otherwise; the summary (written, skipped, failed, time) to stdout.`,
    )
    .action(async (module, options, command) => {
      await dispatch(command.optsWithGlobals(), async (ctx) => (await import('./commands/warm.js')).warm(ctx, module, options));
    });

  program
    .command('bench')
    .description('a short latency and throughput check of the target: get, set, getOrSet, with p50 / p99 and ops/s')
    .addOption(new Option('--seconds <n>', 'how long the whole run lasts').argParser(seconds).default(6))
    .addOption(new Option('--concurrency <n>', 'calls in flight').argParser(wholeNumber(1, 'a count')).default(8))
    .addOption(new Option('--size <bytes>', 'size of each value').argParser(wholeNumber(1, 'a size')).default(100))
    .addHelpText('after', `${examples('hoard bench', 'hoard bench --seconds 15 --concurrency 32 --size 2048', 'hoard --redis-url redis://staging:6379 bench --json')}
Keys live in a namespace of their own under the prefix and are removed afterwards.`)
    .action(async (options, command) => {
      await dispatch(command.optsWithGlobals(), async (ctx) => (await import('./commands/bench.js')).bench(ctx, options));
    });

  program
    .command('doctor')
    .description('checks that Redis is fit for caching: reachable, latency, version, maxmemory, policy, cluster, permissions, foreign keys')
    .addOption(new Option('--l2-timeout <duration>', 'the l2Timeout of your services (default: CACHE_L2_TIMEOUT_MS, else 50ms)'))
    .addOption(new Option('--sample <n>', 'keys under the prefix to look at for values hoard did not write').argParser(wholeNumber(0, 'a count')).default(1000))
    .addHelpText('after', `${examples('hoard doctor', 'hoard --cluster 10.0.0.1:7000,10.0.0.2:7000 doctor --json')}
Reads INFO only (managed Redis services refuse CONFIG GET). Exits with 1 when a check fails;
each failure names its fix.`)
    .action(async (options, command) => {
      await dispatch(command.optsWithGlobals(), async (ctx) => (await import('./commands/doctor.js')).doctor(ctx, options));
    });

  return program;
}
