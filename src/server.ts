import { buildApp } from './app.js';
import { apiKeys, loadConfig } from './config.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Entry point: build the app, listen, close gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfig();
  if (!LOOPBACK.test(config.HOST) && apiKeys(config).length === 0 && !config.ALLOW_NO_AUTH) {
    console.error(
      `Refusing to listen on ${config.HOST} without API_KEY: anyone could write. Set API_KEY, or ALLOW_NO_AUTH=true if you mean it.`,
    );
    process.exit(1);
  }
  const app = await buildApp(config);
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    app.log.info({ signal, grace_ms: config.SHUTDOWN_GRACE_MS }, 'shutting down: no new requests, in-flight ones may finish');
    // Last resort, should closing itself hang: the grace period, the handlers' cleanup, margin.
    const timer = setTimeout(() => {
      app.log.error('shutdown did not complete; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 15_000);
    timer.unref();
    app.closeGracefully().then(
      () => {
        app.log.info('closed: database closed, exiting');
        process.exit(0);
      },
      (error: unknown) => {
        app.log.error({ err: error }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ port: config.PORT, host: config.HOST });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
