import { randomBytes } from 'node:crypto';

/** This process's part of every revision it writes: no other writer's can equal one of ours. */
const REVISION_SOURCE = randomBytes(6).toString('base64url');
let revisions = 0;

/**
 * A new revision of a conversation's content (meta's 'rev', MetaField.revision), for a writer
 * that changes it (the pipeline's write-behind, a rebuild's restore): unique to this write, never
 * reused by a later one — another process's, a redo's, or the conversation's next life after
 * it expired. Readers that keep an answer (receipt details) know it holds while 'rev' is the same.
 */
export function newRevision(): string {
  return `${REVISION_SOURCE}.${(++revisions).toString(36)}`;
}
