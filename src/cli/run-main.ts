import { isAppError } from '../errors.js';

/** Runs a command's main and exits with its code; an unexpected error exits 1. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/** One line for a failure: the catalogue's code and message, or the error itself. */
export const describeError = (error: unknown): string => (isAppError(error) ? `${error.code}: ${error.message}` : String(error));
