/** What a wrong argument was, for an error message: `the string "2"` rather than a bare `2`. */
export function describeValue(value: unknown): string {
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : `${typeof value} ${String(value)}`;
}
