/** Wraps a thrown non-Error (a string, a plain object) so listeners and callers always get an Error. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  const error = new Error(`non-error thrown: ${safeString(value)}`, { cause: value });
  error.name = 'NonError';
  return error;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
