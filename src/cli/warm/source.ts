import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OperationError, UsageError } from '../errors.js';

/** What a warm-up module yields. */
export type WarmItem =
  | { key: string; value: unknown; ttl?: unknown; tags?: unknown }
  | { key: string; factory: (context: { key: string; signal: AbortSignal }) => unknown; ttl?: unknown; tags?: unknown };

export interface WarmSource {
  /** Absolute path of the module. */
  file: string;
  items: AsyncIterator<unknown> | Iterator<unknown>;
  /** Items the module announces (`export const total`, or the length of an exported array). */
  total: number | undefined;
}

/**
 * Loads a warm-up module (ES or CommonJS; TypeScript too when Node runs with a loader such as
 * tsx). Its default export is an iterable or async iterable, or a function returning one.
 */
export async function loadSource(path: string, cwd: string = process.cwd()): Promise<WarmSource> {
  const file = resolve(cwd, path);
  if (!existsSync(file)) throw new UsageError(`warm: no module at ${file}`);
  let mod: { default?: unknown; total?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as typeof mod;
  } catch (error) {
    throw new OperationError(`warm: the module ${path} failed to load: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  let source: unknown = mod.default;
  // A CommonJS module's exports arrive as the default export.
  if (isObject(source) && !isIterable(source) && 'default' in source) source = source.default;
  if (typeof source === 'function') {
    try {
      source = await (source as () => unknown)();
    } catch (error) {
      throw new OperationError(`warm: the module's default export threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  if (!isIterable(source)) {
    throw new UsageError(`warm: the default export of ${path} must be an iterable or async iterable of { key, value } or { key, factory } (or a function returning one)`);
  }
  const declared = typeof mod.total === 'number' ? mod.total : isObject(mod.default) && typeof (mod.default as { total?: unknown }).total === 'number' ? (mod.default as { total: number }).total : undefined;
  const total = declared !== undefined && Number.isSafeInteger(declared) && declared >= 0 ? declared : Array.isArray(source) ? source.length : undefined;
  const iterable = source as AsyncIterable<unknown> & Iterable<unknown>;
  const items = typeof iterable[Symbol.asyncIterator] === 'function' ? iterable[Symbol.asyncIterator]() : iterable[Symbol.iterator]();
  return { file, items, total };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isIterable(value: unknown): boolean {
  if (!isObject(value) || typeof value === 'string') return false;
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function' || typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}
