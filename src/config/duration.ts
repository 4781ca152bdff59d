import { ConfigError } from '../errors/config-error.js';

/**
 * A length of time: milliseconds as a number, or a string such as `'250ms'`, `'1.5s'`, `'5m'`,
 * `'2h'` or `'1d'`. `Infinity` means never expires. Fractions of a millisecond round up.
 */
export type Duration = number | `${number}${DurationUnit}`;
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Readonly<Record<DurationUnit, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * Longest duration kept as given, about 4,460 years. Redis refuses an expiry that overflows its
 * clock (`PX 1e19` is an error, which would leave an entry in memory only), so a longer duration
 * means what it plainly intends: never expires.
 */
export const MAX_DURATION_MS = 2 ** 47;

/** Longest delay Node's timers accept (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

export interface DurationRules {
  /** Whether 0 is accepted. `ttl` and `grace` given in code must be > 0. */
  allowZero?: boolean;
}

/**
 * Parses a {@link Duration} to milliseconds, or throws a `ConfigError` naming `option`.
 * @example parseDuration('1.5s', 'ttl') // 1500
 */
export function parseDuration(value: unknown, option: string, rules: DurationRules = {}): number {
  let ms: number;
  if (typeof value === 'number') {
    ms = value;
  } else if (typeof value === 'string') {
    const match = PATTERN.exec(value);
    if (match === null) {
      throw new ConfigError(option, `expected a duration such as 250ms, 1.5s, 5m, 2h or 1d, got ${JSON.stringify(value)}`);
    }
    ms = decimalTimes(match[1]!, UNIT_MS[match[2] as DurationUnit]);
  } else {
    throw new ConfigError(option, `expected a duration (milliseconds or a string such as '5m'), got ${typeof value}`);
  }
  if (Number.isNaN(ms) || ms < 0) {
    throw new ConfigError(option, `expected a duration >= 0, got ${String(value)}`);
  }
  if (ms === 0 && rules.allowZero !== true) {
    throw new ConfigError(option, 'must be greater than 0 (use Infinity for no expiry)');
  }
  return ms > MAX_DURATION_MS ? Infinity : Math.ceil(ms);
}

/**
 * `decimal` (digits with an optional fraction, e.g. `'0.27'`) times the whole number `factor`,
 * rounded up to a whole number, computed exactly: in floating point `0.27 * 60_000` is
 * 16200.000000000002, which would round up to one millisecond too many.
 */
export function decimalTimes(decimal: string, factor: number): number {
  const [whole, fraction = ''] = decimal.split('.');
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(`${whole}${fraction}`) * BigInt(factor);
  return Number((scaled + scale - 1n) / scale);
}

/** A delay safe for `setTimeout`: clamped to Node's limit so it never fires early. */
export function timerDelay(ms: number): number {
  return ms > MAX_TIMER_MS ? MAX_TIMER_MS : ms;
}
