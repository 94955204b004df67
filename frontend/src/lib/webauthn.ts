// Passkeys: converting between webauthn-rs's JSON (binary fields as base64url strings) and the
// browser's WebAuthn API (binary fields as ArrayBuffers). Pure functions, no DOM access, so they
// can be unit-tested; `createPasskey`/`getPasskey` at the bottom are the thin browser glue.

/** base64url (RFC 4648 §5, padding optional) → bytes. Throws on characters outside the alphabet. */
export function b64urlToBytes(s: string): Uint8Array {
  const clean = s.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(clean)) throw new Error('not base64url');
  if (clean.length % 4 === 1) throw new Error('not base64url: bad length');
  const b64 = clean.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((clean.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function b64urlToBuffer(s: string): ArrayBuffer {
  const bytes = b64urlToBytes(s);
  const buf = new ArrayBuffer(bytes.length);
  new Uint8Array(buf).set(bytes);
  return buf;
}

/** bytes → base64url without padding. */
export function bufferToB64url(buf: ArrayBuffer | ArrayBufferView): string {
  const bytes =
    buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `publicKey` part of webauthn-rs's options (`{"publicKey": {...}}`), or the options themselves. */
function publicKeyOf(options: unknown): Json {
  if (isObject(options) && isObject(options.publicKey)) return options.publicKey;
  if (isObject(options) && typeof options.challenge === 'string') return options;
  throw new Error('the passkey options from the box are not in the expected form');
}

function convertDescriptors(list: unknown): PublicKeyCredentialDescriptor[] | undefined {
  if (!Array.isArray(list)) return undefined;
  return list.map((d: Json) => ({
    ...(d as object),
    type: 'public-key',
    id: b64urlToBuffer(String(d.id)),
  })) as PublicKeyCredentialDescriptor[];
}

/** webauthn-rs registration options → `navigator.credentials.create({ publicKey })` options. */
export function toCreationOptions(options: unknown): PublicKeyCredentialCreationOptions {
  const pk = publicKeyOf(options);
  const user = isObject(pk.user) ? pk.user : {};
  const out: Json = {
    ...pk,
    challenge: b64urlToBuffer(String(pk.challenge)),
    user: { ...user, id: b64urlToBuffer(String(user.id)) },
  };
  const exclude = convertDescriptors(pk.excludeCredentials);
  if (exclude) out.excludeCredentials = exclude;
  else delete out.excludeCredentials;
  return out as unknown as PublicKeyCredentialCreationOptions;
}

/** webauthn-rs authentication options → `navigator.credentials.get({ publicKey })` options. */
export function toRequestOptions(options: unknown): PublicKeyCredentialRequestOptions {
  const pk = publicKeyOf(options);
  const out: Json = { ...pk, challenge: b64urlToBuffer(String(pk.challenge)) };
  const allow = convertDescriptors(pk.allowCredentials);
  if (allow) out.allowCredentials = allow;
  else delete out.allowCredentials;
  return out as unknown as PublicKeyCredentialRequestOptions;
}

/** The parts of a PublicKeyCredential this module reads (so tests can pass plain objects). */
export interface CredentialLike {
  id: string;
  rawId: ArrayBuffer;
  type: string;
  response: {
    clientDataJSON: ArrayBuffer;
    attestationObject?: ArrayBuffer;
    authenticatorData?: ArrayBuffer;
    signature?: ArrayBuffer;
    userHandle?: ArrayBuffer | null;
  };
  getClientExtensionResults?: () => unknown;
}

function extensions(c: CredentialLike): unknown {
  try {
    return c.getClientExtensionResults?.() ?? {};
  } catch {
    return {};
  }
}

/** A new credential (from `create`) → the JSON webauthn-rs expects (RegisterPublicKeyCredential). */
export function registrationToJSON(c: CredentialLike): Json {
  if (!c.response.attestationObject) throw new Error('the passkey answer has no attestation');
  return {
    id: c.id,
    rawId: bufferToB64url(c.rawId),
    type: c.type,
    response: {
      attestationObject: bufferToB64url(c.response.attestationObject),
      clientDataJSON: bufferToB64url(c.response.clientDataJSON),
    },
    extensions: extensions(c),
  };
}

/** A sign-in assertion (from `get`) → the JSON webauthn-rs expects (PublicKeyCredential). */
export function assertionToJSON(c: CredentialLike): Json {
  const r = c.response;
  if (!r.authenticatorData || !r.signature) throw new Error('the passkey answer is incomplete');
  return {
    id: c.id,
    rawId: bufferToB64url(c.rawId),
    type: c.type,
    response: {
      authenticatorData: bufferToB64url(r.authenticatorData),
      clientDataJSON: bufferToB64url(r.clientDataJSON),
      signature: bufferToB64url(r.signature),
      userHandle: r.userHandle && r.userHandle.byteLength > 0 ? bufferToB64url(r.userHandle) : null,
    },
    extensions: extensions(c),
  };
}

/** Plain words for the errors browsers throw from WebAuthn calls. */
export function passkeyErrorMessage(e: unknown): { message: string; hint: string } {
  const name = e instanceof Error || (typeof e === 'object' && e !== null && 'name' in e) ? String((e as Error).name) : '';
  switch (name) {
    case 'NotAllowedError':
      return {
        message: 'The passkey was not used.',
        hint: 'It was cancelled, or took too long. Try again, and follow what your device asks.',
      };
    case 'InvalidStateError':
      return {
        message: 'This device already has a passkey for this account.',
        hint: 'You can use the passkey you already have.',
      };
    case 'SecurityError':
      return {
        message: 'This browser refused to use a passkey at this address.',
        hint: 'Open Keepsake by its name (for example http://localhost:PORT or https://keepsake.local), not by a number address.',
      };
    case 'NotSupportedError':
      return { message: 'This device cannot make a passkey of the kind needed.', hint: 'Try another device or browser.' };
    default:
      return {
        message: e instanceof Error && e.message ? e.message : 'The passkey did not work.',
        hint: 'Try again. If it keeps failing, sign in with your password instead.',
      };
  }
}

/** Whether this browser can use passkeys at all. */
export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
}

/** Browser glue: make a passkey from the box's options; returns the JSON to send back. */
export async function createPasskey(options: unknown): Promise<Json> {
  const cred = await navigator.credentials.create({ publicKey: toCreationOptions(options) });
  if (!cred) throw new Error('no passkey was made');
  return registrationToJSON(cred as unknown as CredentialLike);
}

/** Browser glue: sign with a passkey for the box's options; returns the JSON to send back. */
export async function getPasskey(options: unknown): Promise<Json> {
  const cred = await navigator.credentials.get({ publicKey: toRequestOptions(options) });
  if (!cred) throw new Error('no passkey was used');
  return assertionToJSON(cred as unknown as CredentialLike);
}
