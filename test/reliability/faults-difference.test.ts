import { describe, expect, it } from 'vitest';
import { difference } from '../../reliability/faults.js';

describe('the faults suite names what differs', () => {
  it('lists the entries only one run has, a repeated one with its count', () => {
    expect(difference('Talos – A,Talos – B,Talos – C', 'Talos – A,Talos – C')).toBe('only with faults: nothing | missing with faults: Talos – B');
    expect(difference('Talos – A,Talos – B', 'Talos – A,Talos – A,Talos – B')).toBe('only with faults: Talos – A ×2 | missing with faults: nothing');
  });

  it('shows both values when they are not lists', () => {
    expect(difference(3, 4)).toBe('clean 3 | faulty 4');
  });
});
