/**
 * The V8 flags the server runs with, wherever it is started (`npm start`, `make run`, the
 * Dockerfile's CMD, the bench; a test checks they agree). Without a ceiling V8 lets the old
 * generation fill with a bulk load's dead rows before it collects them: a 1M-row PostgreSQL
 * upload peaked at 244 MB RSS, 139 MB with these. The server's live heap stays under ~60 MB (the
 * largest things it holds are a few report bodies and 1,000 rejected rows), so 128 MB leaves
 * room; a smaller young generation also keeps less garbage resident between scavenges.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-old-space-size=128', '--max-semi-space-size=4'];
