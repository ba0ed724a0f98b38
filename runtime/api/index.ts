/**
 * What processors see of the stream runtime (Kafka Streams' processor/api): the processor and
 * punctuator contracts, their context, the codec contract and the dead-letter format. The
 * runtime's machinery is in ../internals, which processors never import.
 */
export type {
  Decoded,
  PartitionStateStore,
  Processor,
  ProcessorContext,
  Punctuator,
} from './processor';
export { isReasoned, type ReasonedError, type RecordCodec } from './record-codec';
export {
  DEAD_LETTER_REASON_HEADER,
  DEAD_LETTER_SOURCE_HEADER,
  deadLetterRecord,
  type DeadLetterRecord,
} from './dead-letter';
