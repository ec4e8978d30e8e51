/**
 * Starts a worker thread's module from src/, as vitest runs the project: Node strips the types of
 * this file itself, but the module it starts imports the project's other files by their `.js`
 * names and uses TypeScript that is not only types (parameter properties). Hooks registered on
 * this thread resolve `./x.js` to `./x.ts` beside its importer and transform those files
 * (stripTypeScriptTypes, transform mode) before they run. Built code (dist/) never comes here.
 *
 * Erasable TypeScript only, and no imports of the project's own files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import { workerData } from 'node:worker_threads';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const parent = context.parentURL;
    if (parent?.startsWith('file:') && parent.endsWith('.ts') && specifier.startsWith('.') && specifier.endsWith('.js')) {
      const source = new URL(`${specifier.slice(0, -3)}.ts`, parent);
      if (existsSync(source)) return { url: source.href, format: 'module', shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
  load(url, context, nextLoad) {
    if (url.startsWith('file:') && url.endsWith('.ts')) {
      const source = stripTypeScriptTypes(readFileSync(new URL(url), 'utf8'), { mode: 'transform' });
      return { format: 'module', source, shortCircuit: true };
    }
    return nextLoad(url, context);
  },
});

const { sourceEntry } = workerData as { sourceEntry: string };
await import(sourceEntry);
