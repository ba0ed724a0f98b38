import type { FastifyReply } from 'fastify';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Response bodies serialised once per answer and signature, then sent as they are. An answer is
 * an object a source gives again, the same, while the state it was read from is unchanged (held
 * receipt details, held unread pages); the signature is whatever else the body depends on (who
 * shares reads, what is muted). Serialising a large answer by its schema (hundreds of entries)
 * was most of such a request's CPU. A body is kept as UTF-8 bytes, encoded once, not on every
 * write. A body leaves with its answer (a WeakMap).
 */
export class SerialisedBodies {
  private readonly bodies = new WeakMap<object, { signature: string; body: Buffer }>();

  /** Sends the body of `answer` (built by `response`, serialised by the route's schema). */
  send(
    reply: FastifyReply,
    answer: object,
    signature: string,
    response: () => unknown,
  ): FastifyReply {
    const held = this.bodies.get(answer);
    // A Buffer with its type set is sent as is (Fastify serialises only other payloads).
    if (held?.signature === signature) return reply.type(JSON_TYPE).send(held.body);
    const body = Buffer.from(String(reply.serialize(response())));
    this.bodies.set(answer, { signature, body });
    return reply.type(JSON_TYPE).send(body);
  }
}
