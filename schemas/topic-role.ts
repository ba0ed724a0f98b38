/**
 * What a topic is for. Schemas and processors refer to topics by role, never by name: each role
 * has one envelope record (schema-catalog.ts), and the runtime gives each role its topic name
 * (runtime/topics.ts). The schema contract is stated here, below the runtime that uses it.
 */
export type TopicRole =
  | 'conversationEvents'
  | 'receiptEvents'
  | 'userSettings'
  | 'presence'
  | 'receiptUpdates'
  | 'deadLetters'
  | 'stateChanges';
