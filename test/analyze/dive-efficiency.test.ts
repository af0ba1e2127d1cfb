import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiveTree, diveEfficiency } from '../../src/analyze/index.ts';

function trees(count: number): DiveTree[] {
  return Array.from({ length: count }, () => new DiveTree());
}

const file = (size: number) => ({ size, isDir: false });
const dir = { size: 0, isDir: true };

describe('diveEfficiency (dive/filetree/efficiency.go semantics)', () => {
  it('charges a whiteout of a directory dive only knows implicitly nothing (its payload is not a dir)', () => {
    const t = trees(3);
    t[0]!.addPath('/etc/nginx/nginx.conf', file(2000));
    t[0]!.addPath('/etc/nginx/public', file(3000));
    t[1]!.addPath('/etc/nginx/nginx.conf', file(5000));
    t[1]!.addPath('/etc/athing', file(10000));
    t[2]!.addPath('/etc/.wh.nginx', file(0));
    const result = diveEfficiency(t);
    // min: 2000 + 3000 + 10000 + 0; cumulative: 7000 + 3000 + 10000 + 0.
    assert.equal(result.score, 0.75);
    assert.deepEqual(
      result.inefficiencies.map((d) => [d.path, d.cumulativeSize]),
      [['/etc/nginx/nginx.conf', 7000]],
    );
  });

  it('charges a whiteout of a listed directory the sizes below it', () => {
    const t = trees(3);
    t[0]!.addPath('/etc/nginx', dir);
    t[0]!.addPath('/etc/nginx/nginx.conf', file(2000));
    t[0]!.addPath('/etc/nginx/public', file(3000));
    t[1]!.addPath('/etc/athing', file(10000));
    t[2]!.addPath('/etc/.wh.nginx', file(0));
    const result = diveEfficiency(t);
    // The whiteout path /etc/nginx is seen once (size 5000): it adds 5000 to both sums.
    assert.equal(result.score, 1);
    assert.equal(result.wastedBytes, 0);
  });

  it('scores an image with no bytes 1.0', () => {
    const t = trees(3);
    t[0]!.addPath('/nothing', file(0));
    const result = diveEfficiency(t);
    assert.equal(result.score, 1);
    assert.equal(result.inefficiencies.length, 0);
  });

  it('counts every copy of a file overwritten in a later layer as wasted', () => {
    const t = trees(2);
    t[0]!.addPath('/a', file(100));
    t[1]!.addPath('/a', file(100));
    const result = diveEfficiency(t);
    assert.equal(result.wastedBytes, 200);
    assert.equal(result.score, 100 / 200);
  });

  it("stops a layer at a whiteout of a path missing below, as dive's visitor error does", () => {
    const t = trees(2);
    t[0]!.addPath('/keep', file(10));
    // Visited by name: /.wh.ghost first (fails), so /zzz in the same layer is never counted,
    // and /ghost keeps a minimum of -1.
    t[1]!.addPath('/.wh.ghost', file(0));
    t[1]!.addPath('/zzz', file(90));
    const result = diveEfficiency(t);
    assert.equal(result.score, (10 - 1) / 10);
  });

  it('never adds opaque markers', () => {
    const t = new DiveTree();
    t.addPath('/d/.wh..wh..opq', file(0));
    assert.ok(t.getNode('/d'));
    assert.equal(t.getNode('/d/.wh..wh..opq'), undefined);
  });
});
