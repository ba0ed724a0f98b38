import { exitWhenDone } from '../services/run-service';

/**
 * Runs a command's body and turns the errors we expect (configuration, unreachable servers)
 * into one readable line and a non-zero exit, instead of a stack trace. The same exit as the
 * deployables' (services/run-service.ts).
 */
export const runCommand: (body: () => Promise<void>) => void = exitWhenDone;
