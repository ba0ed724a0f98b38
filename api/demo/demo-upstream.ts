import type { ConversationKind } from '../../schemas/types';
import type { EventPublisher } from '../../runtime/event-publisher';

export interface DemoUser {
  userId: string;
  name: string;
}

export interface DemoConversation {
  conversationId: string;
  kind: ConversationKind;
  title: string;
  members: string[];
}

export interface DemoMessage {
  message_id: string;
  seq: number;
  sender_id: string;
  text: string;
  sent_at: number;
}

/**
 * DEMO ONLY — stands in for the upstream messaging system, which ticks does not include: it
 * keeps the demo's conversations and message texts in memory, hands out seqs, and produces
 * MemberAdded / MessageSent / MessageDeleted through EventPublisher exactly as a real messaging
 * service would.
 * Ids carry a run id, so every `npm start` begins with fresh conversations.
 */
export class DemoUpstream {
  readonly users: DemoUser[];
  readonly conversations: DemoConversation[];
  private readonly messages = new Map<string, DemoMessage[]>();
  /** Deleted message ids per conversation (clients drop them from what they show). */
  private readonly deletedIds = new Map<string, string[]>();

  constructor(
    private readonly publisher: () => EventPublisher,
    readonly runId: string,
  ) {
    const user = (name: string): DemoUser => ({
      userId: `${name.toLowerCase()}-${runId}`,
      name,
    });
    this.users = [user('Ana'), user('Bo'), user('Cy')];
    const [ana, bo, cy] = this.users.map((u) => u.userId) as [string, string, string];
    this.conversations = [
      {
        conversationId: `demo-${runId}-dm`,
        kind: 'DIRECT',
        title: 'Ana ↔ Bo',
        members: [ana, bo],
      },
      {
        conversationId: `demo-${runId}-group`,
        kind: 'GROUP',
        title: 'Group: Ana, Bo, Cy',
        members: [ana, bo, cy],
      },
    ];
    for (const c of this.conversations) {
      this.messages.set(c.conversationId, []);
      this.deletedIds.set(c.conversationId, []);
    }
  }

  /** Produces the members of the demo conversations. */
  async setUp(): Promise<void> {
    const publish = this.publisher();
    for (const c of this.conversations)
      for (const m of c.members) publish.memberAdded(c.conversationId, m, c.kind);
    await publish.flush();
  }

  conversation(conversationId: string): DemoConversation | undefined {
    return this.conversations.find((c) => c.conversationId === conversationId);
  }

  conversationsOf(userId: string): DemoConversation[] {
    return this.conversations.filter((c) => c.members.includes(userId));
  }

  messagesAfter(conversationId: string, afterSeq: number): DemoMessage[] {
    const deleted = new Set(this.deleted(conversationId));
    return (this.messages.get(conversationId) ?? []).filter(
      (m) => m.seq > afterSeq && !deleted.has(m.message_id),
    );
  }

  deleted(conversationId: string): string[] {
    return this.deletedIds.get(conversationId) ?? [];
  }

  /** The sender deletes their message: false when it is not theirs (or not there). */
  async delete(
    conversation: DemoConversation,
    userId: string,
    messageId: string,
  ): Promise<boolean> {
    const message = this.messages
      .get(conversation.conversationId)!
      .find((m) => m.message_id === messageId);
    const deleted = this.deletedIds.get(conversation.conversationId)!;
    if (!message || message.sender_id !== userId) return false;
    if (!deleted.includes(messageId)) deleted.push(messageId);
    await this.publisher().messageDeleted(conversation.conversationId, messageId, userId).flush();
    return true;
  }

  async send(conversation: DemoConversation, senderId: string, text: string): Promise<DemoMessage> {
    const list = this.messages.get(conversation.conversationId)!;
    const seq = list.length + 1;
    const message: DemoMessage = {
      message_id: `${conversation.conversationId}-m${seq}`,
      seq,
      sender_id: senderId,
      text,
      sent_at: Date.now(),
    };
    list.push(message); // before the await: seqs stay in order under concurrent sends
    await this.publisher()
      .messageSent(conversation.conversationId, {
        messageId: message.message_id,
        seq,
        senderId,
        kind: conversation.kind,
        sentAt: message.sent_at,
      })
      .flush();
    return message;
  }
}
