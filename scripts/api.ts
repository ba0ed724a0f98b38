import { Command } from 'commander';
import { apiProcess } from '../services/deployables';
import { runService } from '../services/run-service';

/**
 * The query API and the push gateway as their own process (the production layout: scale by
 * adding processes behind a load balancer; each gateway instance reads receipt_updates in its own
 * consumer group). Configured by TICKS_* variables.
 */
new Command('api')
  .description('Run the query API (and, unless --no-gateway, the WebSocket push gateway)')
  .option('--no-gateway', 'serve the query API only')
  .option('--demo', 'also serve the demo page (development only)', false)
  .action((opts: { gateway: boolean; demo: boolean }) => runService(apiProcess(opts)))
  .parse();
