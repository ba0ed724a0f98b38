import { Command } from 'commander';
import { DEV_AUTH_SECRET, loadConfig } from '../config/config';
import { TokenService } from '../auth/token-service';
import { runCommand } from './run-command';

/**
 * Prints a bearer token for the query API and the gateway, signed with TICKS_AUTH_SECRET, with
 * our issuer and TICKS_AUTH_TOKEN_TTL_SECONDS to live.
 */
new Command('token')
  .description('Print a bearer token for <user> (and [device]) signed with TICKS_AUTH_SECRET')
  .argument('<user>', 'user id (the token subject)')
  .argument('[device]', 'device id the token is for')
  .action((user: string, device: string | undefined) =>
    runCommand(async () => {
      const config = loadConfig();
      if (config.auth.secret === DEV_AUTH_SECRET)
        process.stderr.write(
          'note: signed with the development secret (TICKS_AUTH_SECRET is not set): only a ticks in dev mode on loopback (`npm start`) accepts it\n',
        );
      const tokens = TokenService.fromConfig(config.auth);
      process.stdout.write(`${tokens.issue(user, device)}\n`);
    }),
  )
  .parse();
