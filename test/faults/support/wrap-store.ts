import type { LoadSession, Store } from '../../../src/store/store.js';

/** Replacements for some of a store's methods; `base` is the real store. */
export type StoreOverrides = {
  [K in keyof Store]?: Store[K] extends (...args: infer A) => infer R ? (base: Store, ...args: A) => R : never;
};

/**
 * A test-only store that delegates to a real one except where overridden: slow writes, injected
 * failures, spying on saved upload reports. A Proxy, so it keeps up with the Store interface.
 */
export function wrapStore(base: Store, overrides: StoreOverrides): Store {
  return new Proxy(base, {
    get(target, property, receiver) {
      const override = (overrides as Record<PropertyKey, ((...args: unknown[]) => unknown) | undefined>)[property];
      if (override !== undefined) return (...args: unknown[]) => override(target, ...args);
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A load session whose every chunk write first waits `ms` (a slow database). */
export function slowSession(session: LoadSession, ms: number, onWrite?: (rows: number) => void): LoadSession {
  return {
    write: async (rows) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      const outcome = await session.write(rows);
      onWrite?.(rows.length);
      return outcome;
    },
    finish: () => session.finish(),
    commit: (record, rejects) => session.commit(record, rejects),
    rollback: () => session.rollback(),
  };
}
