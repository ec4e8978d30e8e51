// Summarizes a V8 .cpuprofile (node --cpu-prof): self time by function, and by file. With a
// worker thread, node writes one profile per thread: pass the main thread's (the biggest).
// Usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N]
import { readFileSync } from 'node:fs';

const [file, n = '25'] = process.argv.slice(2);
if (file === undefined || !/^\d+$/.test(n)) {
  console.error('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
const dt = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
}
const total = [...self.values()].reduce((a, b) => a + b, 0);
const byFunction = new Map();
const byFile = new Map();
for (const [id, us] of self) {
  const { functionName, url, lineNumber } = byId.get(id).callFrame;
  const where = url.replace(/^.*\/(node_modules|dist|node:)/, '$1');
  const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const f = where === '' ? functionName : where.replace(/:\d+$/, '');
  byFile.set(f, (byFile.get(f) ?? 0) + us);
}
const top = (map, k) =>
  [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, k)
    .map(([key, us]) => `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`)
    .join('\n');
console.log(`total ${(total / 1e6).toFixed(2)} s sampled\n\nby function:\n${top(byFunction, Number(n))}\n\nby file:\n${top(byFile, 15)}`);
