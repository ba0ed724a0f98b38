import { Command } from 'commander';
import { persisterProcess } from '../services/deployables';
import { runService } from '../services/run-service';

/**
 * The persister alone (the production layout: its own deployment, scaled by adding processes to
 * its consumer group). Migrates Cassandra first; stops cleanly on SIGTERM/SIGINT, flushing and
 * committing what it wrote.
 */
new Command('persister')
  .description(
    'Write the state_changes changelog to Cassandra (consumer group TICKS_PERSISTER_GROUP_ID); configured by TICKS_* variables',
  )
  .action(() => runService(persisterProcess, { loggerName: 'ticks-persister' }))
  .parse();
