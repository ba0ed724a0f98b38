import { NotWireFormatError } from './codec-errors';
import { HEADER_SIZE, readSchemaId, writeHeader } from './wire-format';

describe('wire format', () => {
  it('writes and reads the 5-byte header', () => {
    const framed = Buffer.alloc(HEADER_SIZE + 2);
    writeHeader(framed, 0x01020304);
    expect([...framed.subarray(0, HEADER_SIZE)]).toEqual([0, 1, 2, 3, 4]);
    expect(readSchemaId(framed)).toBe(0x01020304);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['shorter than the header', Buffer.from([0, 0, 0, 1])],
    ['JSON', Buffer.from('{"event_id":"x"}')],
    ['a wrong magic byte', Buffer.from([1, 0, 0, 0, 1, 2])],
  ])('refuses %s as UNDECODABLE', (_label, bytes) => {
    expect(() => readSchemaId(bytes)).toThrow(NotWireFormatError);
    try {
      readSchemaId(bytes);
    } catch (error) {
      expect((error as NotWireFormatError).reason).toBe('UNDECODABLE');
      expect((error as NotWireFormatError).retriable).toBe(false);
    }
  });
});
