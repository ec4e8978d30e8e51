/**
 * The V8 flags the server runs with, wherever it is started (`npm start`, `make run`, the
 * Dockerfile's CMD, the bench; a test checks they agree). Without a ceiling V8 lets the old
 * generation fill with a bulk load's dead rows before it collects them: a 1M-row PostgreSQL
 * upload peaked at 244 MB RSS, 139 MB with these. The server's live heap stays under ~60 MB (the
 * largest things it holds are a few report bodies and 1,000 rejected rows), so 128 MB leaves
 * room; a smaller young generation also keeps less garbage resident between scavenges.
 *
 * No allocation-site pretenuring: V8 decides, from the survival of objects allocated at a site in
 * its first young collections, to allocate them in the old generation from then on, and the
 * decision sticks. About one SQLite upload in three decided so for the CSV rows (a timing
 * accident at its start) and ran in another mode: every young collection promoted ≈ 1 MB of rows,
 * 34 full collections per 1M rows instead of 2, ≈ 2 s more CPU and ≈ 30 MB more RSS (159–167 MB
 * against 128–130), at 1M and at 10M rows. Without it: 8 runs of 8 in the good mode.
 */
export const SERVER_NODE_FLAGS: readonly string[] = [
  '--max-old-space-size=128',
  '--max-semi-space-size=4',
  '--no-allocation-site-pretenuring',
];
