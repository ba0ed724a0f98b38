import { Command } from 'commander';
import { loadConfig } from '../config/config';
import { TokenService } from '../auth/token-service';
import { runCommand } from './run-command';

/** Prints a bearer token for the query API and the gateway, signed with TICKS_AUTH_SECRET. */
new Command('token')
  .description('Print a bearer token for <user> (and [device]) signed with TICKS_AUTH_SECRET')
  .argument('<user>', 'user id (the token subject)')
  .argument('[device]', 'device id the token is for')
  .action((user: string, device: string | undefined) =>
    runCommand(async () => {
      const config = loadConfig();
      const tokens = new TokenService({
        secret: config.auth.secret,
        ttlSeconds: config.auth.tokenTtlSeconds,
      });
      process.stdout.write(`${tokens.issue(user, device)}\n`);
    }),
  )
  .parse();
