import { describe, expect, it } from 'vitest';
import {
  assertionToJSON,
  b64urlToBuffer,
  b64urlToBytes,
  bufferToB64url,
  passkeyErrorMessage,
  registrationToJSON,
  toCreationOptions,
  toRequestOptions,
  type CredentialLike,
} from './webauthn';

const bytes = (...b: number[]) => new Uint8Array(b).buffer;
const arr = (b: ArrayBuffer | BufferSource) => [...new Uint8Array(b as ArrayBuffer)];

describe('base64url', () => {
  it('round-trips every byte value, without padding and with the URL alphabet', () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const s = bufferToB64url(all.buffer);
    expect(s).not.toMatch(/[+/=]/);
    expect([...b64urlToBytes(s)]).toEqual([...all]);
  });

  it('matches known values (RFC 4648 test vectors, URL-safe)', () => {
    const enc = (t: string) => bufferToB64url(new TextEncoder().encode(t));
    expect(enc('')).toBe('');
    expect(enc('f')).toBe('Zg');
    expect(enc('fo')).toBe('Zm8');
    expect(enc('foo')).toBe('Zm9v');
    expect(enc('foobar')).toBe('Zm9vYmFy');
    expect(bufferToB64url(bytes(0xfb, 0xff))).toBe('-_8');
    expect(arr(b64urlToBuffer('-_8'))).toEqual([0xfb, 0xff]);
    expect(arr(b64urlToBuffer('Zm8='))).toEqual([0x66, 0x6f]);
  });

  it('accepts typed-array views of part of a buffer', () => {
    const buf = new Uint8Array([1, 2, 3, 4]);
    expect(bufferToB64url(buf.subarray(1, 3))).toBe(bufferToB64url(bytes(2, 3)));
  });

  it('refuses text that is not base64url', () => {
    expect(() => b64urlToBytes('a+b/')).toThrow();
    expect(() => b64urlToBytes('abcde')).toThrow();
  });
});

// Shaped like webauthn-rs's CreationChallengeResponse / RequestChallengeResponse JSON.
const creation = {
  publicKey: {
    rp: { name: 'Keepsake', id: 'localhost' },
    user: { id: 'a2VlcHNha2UAAAAAAAAAAQ', name: 'anna', displayName: 'Anna' },
    challenge: 'AAECAwQ',
    pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    timeout: 300000,
    excludeCredentials: [{ type: 'public-key', id: 'CQoL' }],
    authenticatorSelection: { residentKey: 'discouraged', userVerification: 'preferred' },
    attestation: 'none',
    extensions: { credProtect: { credentialProtectionPolicy: 'userVerificationRequired' } },
  },
};

describe('toCreationOptions', () => {
  it('turns the binary fields into ArrayBuffers and keeps the rest', () => {
    const o = toCreationOptions(creation);
    expect(o.challenge).toBeInstanceOf(ArrayBuffer);
    expect(arr(o.challenge)).toEqual([0, 1, 2, 3, 4]);
    expect(o.user.id).toBeInstanceOf(ArrayBuffer);
    expect(arr(o.user.id)).toEqual([...b64urlToBytes('a2VlcHNha2UAAAAAAAAAAQ')]);
    expect(o.user.name).toBe('anna');
    expect(o.user.displayName).toBe('Anna');
    expect(arr(o.excludeCredentials![0].id)).toEqual([9, 10, 11]);
    expect(o.excludeCredentials![0].type).toBe('public-key');
    expect(o.rp).toEqual({ name: 'Keepsake', id: 'localhost' });
    expect(o.pubKeyCredParams).toEqual([{ type: 'public-key', alg: -7 }]);
    expect(o.timeout).toBe(300000);
    expect(o.attestation).toBe('none');
  });

  it('does not change its input', () => {
    const copy = JSON.parse(JSON.stringify(creation));
    toCreationOptions(creation);
    expect(creation).toEqual(copy);
  });

  it('accepts bare publicKey options, and no excludeCredentials', () => {
    const { excludeCredentials: _, ...pk } = creation.publicKey;
    const o = toCreationOptions(pk);
    expect(o.excludeCredentials).toBeUndefined();
    expect(arr(o.challenge)).toEqual([0, 1, 2, 3, 4]);
  });

  it('refuses options of another shape', () => {
    expect(() => toCreationOptions({ nope: 1 })).toThrow(/expected form/);
    expect(() => toCreationOptions(null)).toThrow();
  });
});

describe('toRequestOptions', () => {
  it('converts the challenge and allowCredentials ids', () => {
    const o = toRequestOptions({
      publicKey: {
        challenge: 'AAEC',
        timeout: 60000,
        rpId: 'localhost',
        allowCredentials: [{ type: 'public-key', id: 'CQoL', transports: ['internal'] }],
        userVerification: 'preferred',
      },
      mediation: null,
    });
    expect(arr(o.challenge)).toEqual([0, 1, 2]);
    expect(o.rpId).toBe('localhost');
    expect(arr(o.allowCredentials![0].id)).toEqual([9, 10, 11]);
    expect(o.allowCredentials![0].transports).toEqual(['internal']);
    expect(o.userVerification).toBe('preferred');
  });

  it('leaves allowCredentials out when there is none (discoverable credentials)', () => {
    expect(toRequestOptions({ publicKey: { challenge: 'AA' } }).allowCredentials).toBeUndefined();
  });
});

describe('credentials to JSON', () => {
  it('encodes a registration like webauthn-rs RegisterPublicKeyCredential', () => {
    const c: CredentialLike = {
      id: 'CQoL',
      rawId: bytes(9, 10, 11),
      type: 'public-key',
      response: { attestationObject: bytes(1, 2), clientDataJSON: bytes(123, 125) },
      getClientExtensionResults: () => ({ credProps: { rk: true } }),
    };
    expect(registrationToJSON(c)).toEqual({
      id: 'CQoL',
      rawId: 'CQoL',
      type: 'public-key',
      response: { attestationObject: 'AQI', clientDataJSON: 'e30' },
      extensions: { credProps: { rk: true } },
    });
  });

  it('encodes an assertion like webauthn-rs PublicKeyCredential', () => {
    const c: CredentialLike = {
      id: 'CQoL',
      rawId: bytes(9, 10, 11),
      type: 'public-key',
      response: { authenticatorData: bytes(5), clientDataJSON: bytes(123, 125), signature: bytes(6, 7), userHandle: bytes(8) },
    };
    expect(assertionToJSON(c)).toEqual({
      id: 'CQoL',
      rawId: 'CQoL',
      type: 'public-key',
      response: { authenticatorData: 'BQ', clientDataJSON: 'e30', signature: 'Bgc', userHandle: 'CA' },
      extensions: {},
    });
  });

  it('sends a missing or empty user handle as null', () => {
    const base: CredentialLike = {
      id: 'x',
      rawId: bytes(1),
      type: 'public-key',
      response: { authenticatorData: bytes(5), clientDataJSON: bytes(1), signature: bytes(2), userHandle: null },
    };
    expect((assertionToJSON(base).response as Record<string, unknown>).userHandle).toBeNull();
    base.response.userHandle = new ArrayBuffer(0);
    expect((assertionToJSON(base).response as Record<string, unknown>).userHandle).toBeNull();
  });

  it('refuses incomplete answers', () => {
    expect(() => registrationToJSON({ id: 'x', rawId: bytes(1), type: 'public-key', response: { clientDataJSON: bytes(1) } })).toThrow();
    expect(() => assertionToJSON({ id: 'x', rawId: bytes(1), type: 'public-key', response: { clientDataJSON: bytes(1) } })).toThrow();
  });
});

describe('passkeyErrorMessage', () => {
  it('says plainly what a cancelled or refused passkey means', () => {
    const e = (name: string) => Object.assign(new Error('x'), { name });
    expect(passkeyErrorMessage(e('NotAllowedError')).message).toMatch(/not used/);
    expect(passkeyErrorMessage(e('InvalidStateError')).message).toMatch(/already has a passkey/);
    expect(passkeyErrorMessage(e('SecurityError')).hint).toMatch(/not by a number address/);
    expect(passkeyErrorMessage(new Error('odd')).message).toBe('odd');
  });
});
