import { standsAlone } from './pipeline';

describe('a cluster write no replica confirmed', () => {
  const sentTo = '127.0.0.1:7000;127.0.0.1:7003';

  it('stands when the master it ran on serves its slot alone (its replica died)', () => {
    expect(standsAlone(sentTo, '127.0.0.1:7000')).toBe(true);
  });

  it('does not while that master still shows a replica (it may not have the writes)', () => {
    expect(standsAlone(sentTo, sentTo)).toBe(false);
  });

  it('does not after a failover: the promoted replica serves the slot, without the writes', () => {
    expect(standsAlone(sentTo, '127.0.0.1:7003')).toBe(false);
    expect(standsAlone(sentTo, '127.0.0.1:7003;127.0.0.1:7006')).toBe(false);
  });
});
