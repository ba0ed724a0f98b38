/**
 * Runs a command's body and turns the errors we expect (configuration, unreachable servers)
 * into one readable line and a non-zero exit, instead of a stack trace.
 */
export function runCommand(body: () => Promise<void>): void {
  body().then(
    () => process.exit(0),
    (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      console.error(`error: ${message}`);
      if (process.env.TICKS_DEBUG && err instanceof Error) console.error(err.stack);
      process.exit(1);
    },
  );
}
