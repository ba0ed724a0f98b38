import { Command } from 'commander';
import { offlineProcess } from '../services/deployables';
import { runService } from '../services/run-service';

/**
 * The offline batcher alone (the production layout: its own deployment and consumer group,
 * scaled by adding processes; receipt_updates and presence are co-partitioned by user).
 */
new Command('offline')
  .description('Run the offline batcher (presence + receipt_updates → OfflineBatch on reconnect)')
  .action(() => runService(offlineProcess))
  .parse();
