import { EventInvalidator, createCache } from '../../src/index.js';
import { expectTypeOf } from 'expect-type';
const c = createCache();
new EventInvalidator(c).on('property.updated', (e) => {
  expectTypeOf(e.type).toEqualTypeOf<'property.updated'>();
  expectTypeOf(e.id).toBeUnknown();
  return { keys: [`property:${String(e.id)}`] };
});
type Ev = { type: 'a'; id: string } | { type: 'b'; n: number };
new EventInvalidator<Ev>(c).on('b', (e) => {
  expectTypeOf(e).toEqualTypeOf<{ type: 'b'; n: number }>();
  return undefined;
});
