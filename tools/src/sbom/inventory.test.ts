import { describe, expect, it } from 'vitest';
import { narHashHex, uuidFromDigest } from './inventory.ts';

describe('document identity', () => {
  it("the serial number is the image digest's name-based UUID (v5, OID namespace), as Python's uuid.uuid5 makes it", () => {
    // python3 -c "import uuid; print(uuid.uuid5(uuid.NAMESPACE_OID, 'sha256:abc'))"
    expect(uuidFromDigest('sha256:abc')).toBe('ea63b874-e4bf-5dd8-8ac2-facc43ea4c4b');
  });
  it('NAR hashes are hex', () => {
    expect(narHashHex(`sha256-${Buffer.alloc(32, 0xab).toString('base64')}`)).toBe('ab'.repeat(32));
  });
});
