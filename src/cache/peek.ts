/**
 * @internal The key of `Cache`'s synchronous memory-tier read, for hoard's own hit paths (the
 * response cache). Not part of the public API.
 */
export const PEEK_MEMORY: unique symbol = Symbol('hoard.peekMemory');
