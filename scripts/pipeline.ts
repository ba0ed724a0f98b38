import { Command } from 'commander';
import { pipelineProcess } from '../services/deployables';
import { runService } from '../services/run-service';

/**
 * Runs the processors alone (no stack management, no traffic): the production layout, one
 * process per deployment, scaled by adding processes to the consumer group.
 */
new Command('pipeline')
  .description(
    'Run the ticks processors (one process of the consumer group); configured by TICKS_* variables',
  )
  .action(() => runService(pipelineProcess))
  .parse();
