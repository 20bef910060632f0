/**
 * The emulator's only door to MLS: everything here is `ts-mls` (RFC 9420 structures, codecs,
 * signatures, refs). The emulator never encodes, signs or hashes an MLS structure itself.
 *
 * `ts-mls` is ESM-only; Node ≥ 20.19 loads it with `require(esm)` and jest transpiles it
 * (jest.config.js). A few functions the delivery service needs are not re-exported by the
 * package index (key package signature check and ref, proposal ref, bare Welcome codec,
 * variable-length vectors); they are loaded from the package's own `./*.js` export
 * (`ts-mls/keyPackage.js` …) and typed from its declaration files.
 */
import {
  decodeMlsMessage,
  encodeExternalSender,
  encodeMlsMessage,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  type CiphersuiteImpl,
  type Commit,
  type KeyPackage,
  type MLSMessage,
  type Welcome,
} from 'ts-mls';
import type * as KeyPackageModule from 'ts-mls/dist/src/keyPackage';
import type * as LeafNodeModule from 'ts-mls/dist/src/leafNode';
import type * as AuthenticatedContentModule from 'ts-mls/dist/src/authenticatedContent';
import type * as WelcomeModule from 'ts-mls/dist/src/welcome';
import type * as VariableLengthModule from 'ts-mls/dist/src/codec/variableLength';
import type * as TlsEncoderModule from 'ts-mls/dist/src/codec/tlsEncoder';

/* eslint-disable @typescript-eslint/no-require-imports */
const keyPackageModule = require('ts-mls/keyPackage.js') as typeof KeyPackageModule;
const leafNodeModule = require('ts-mls/leafNode.js') as typeof LeafNodeModule;
const authenticatedContentModule = require('ts-mls/authenticatedContent.js') as typeof AuthenticatedContentModule;
const welcomeModule = require('ts-mls/welcome.js') as typeof WelcomeModule;
const variableLengthModule = require('ts-mls/codec/variableLength.js') as typeof VariableLengthModule;
const tlsEncoderModule = require('ts-mls/codec/tlsEncoder.js') as typeof TlsEncoderModule;
/* eslint-enable @typescript-eslint/no-require-imports */

export { decodeMlsMessage, encodeExternalSender, encodeMlsMessage };
export type { CiphersuiteImpl, KeyPackage, MLSMessage, Welcome };

/** DAVE protocol version 1 uses MLS ciphersuite 2 (daveprotocol.com, "MLS Parameters"). */
export const DAVE_CIPHERSUITE = 'MLS_128_DHKEMP256_AES128GCM_SHA256_P256' as const;
/** `not_after` a DAVE key package must carry: 2^64 − 1 (daveprotocol.com, "Validation"). */
const MAX_NOT_AFTER = (1n << 64n) - 1n;

let ciphersuite: Promise<CiphersuiteImpl> | null = null;
/** The ciphersuite implementation (SHA-256, P-256 ECDSA via @noble/curves, HPKE), created once. */
export function daveCiphersuite(): Promise<CiphersuiteImpl> {
  ciphersuite ??= getCiphersuiteImpl(getCiphersuiteFromName(DAVE_CIPHERSUITE));
  return ciphersuite;
}

const encodeVarBytes = tlsEncoderModule.encode(variableLengthModule.varLenDataEncoder);

/** `opaque data<V>`: MLS variable-length vector (RFC 9420 §2.1.2). */
export function varBytes(data: Uint8Array): Uint8Array {
  return encodeVarBytes(data);
}

/** Hex of a ref, as a map key. */
export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Big-endian u64 of a decimal user/channel snowflake, or null when it is not one. */
export function snowflakeBytes(id: string): Uint8Array | null {
  if (!/^\d{1,20}$/.test(id)) return null;
  const n = BigInt(id);
  if (n >= 1n << 64n) return null;
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(n);
  return out;
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
export { equalBytes };

/** A key package that passed the voice gateway's validation. */
export interface ValidatedKeyPackage {
  keyPackage: KeyPackage;
  /** KeyPackageRef (RFC 9420 §5.2): how a Welcome names the new member. */
  ref: Uint8Array;
  /** The leaf's signature public key (the member's identity key). */
  signatureKey: Uint8Array;
}

/**
 * Decodes and validates an op 26 payload for `userId` (daveprotocol.com, "Key Packages" →
 * "Validation"): MLS 1.0, ciphersuite 2, a basic credential whose identity is the user id as
 * a big-endian u64, lifetime `0 … 2^64−1`, valid key package and leaf node signatures.
 * Accepts a bare KeyPackage (what libdave and davey send) or one wrapped in an MLSMessage
 * (what the spec's struct says).
 */
export async function validateKeyPackage(
  payload: Uint8Array,
  userId: string,
): Promise<{ ok: true; value: ValidatedKeyPackage } | { ok: false; reason: string }> {
  let kp: KeyPackage;
  try {
    // MLSMessage: u16 version (1) ‖ u16 wire_format (5 = key package); bare: u16 version ‖ u16 ciphersuite (2).
    if (payload.length >= 4 && payload[2] === 0 && payload[3] === 5) {
      const decoded = decodeMlsMessage(payload, 0);
      if (!decoded || decoded[0].wireformat !== 'mls_key_package' || decoded[1] !== payload.length) {
        return { ok: false, reason: 'undecodable key package message' };
      }
      kp = decoded[0].keyPackage;
    } else {
      const decoded = keyPackageModule.decodeKeyPackage(payload, 0);
      if (!decoded || decoded[1] !== payload.length) return { ok: false, reason: 'undecodable key package' };
      kp = decoded[0];
    }
  } catch (err) {
    return { ok: false, reason: `undecodable key package: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (kp.version !== 'mls10') return { ok: false, reason: `protocol version ${kp.version}` };
  if (kp.cipherSuite !== DAVE_CIPHERSUITE) return { ok: false, reason: `ciphersuite ${kp.cipherSuite}` };
  const leaf = kp.leafNode;
  const expected = snowflakeBytes(userId);
  if (leaf.credential.credentialType !== 'basic') return { ok: false, reason: 'credential is not basic' };
  if (!expected || !equalBytes(leaf.credential.identity, expected)) {
    return { ok: false, reason: 'credential identity is not the user id (big-endian u64)' };
  }
  if (leaf.leafNodeSource !== 'key_package') return { ok: false, reason: 'leaf node source is not key_package' };
  if (leaf.lifetime.notBefore !== 0n || leaf.lifetime.notAfter !== MAX_NOT_AFTER) {
    return { ok: false, reason: 'lifetime is not 0 … 2^64-1' };
  }
  const cs = await daveCiphersuite();
  try {
    if (!(await keyPackageModule.verifyKeyPackage(kp, cs.signature))) return { ok: false, reason: 'bad key package signature' };
    if (!(await leafNodeModule.verifyLeafNodeSignatureKeyPackage(leaf, cs.signature))) {
      return { ok: false, reason: 'bad leaf node signature' };
    }
  } catch (err) {
    return { ok: false, reason: `signature check failed: ${err instanceof Error ? err.message : String(err)}` };
  }
  const ref = await keyPackageModule.makeKeyPackageRef(kp, cs.hash);
  return { ok: true, value: { keyPackage: kp, ref, signatureKey: leaf.signaturePublicKey } };
}

/** What the delivery service reads from an op 28 payload. */
export interface ParsedCommitWelcome {
  /** The commit MLSMessage bytes (what op 29 relays). */
  commitMessage: Uint8Array;
  groupId: Uint8Array;
  epoch: bigint;
  /** Leaf index of the committer (sender type member). */
  senderLeaf: number;
  /** Proposal refs, in commit order. */
  refs: Uint8Array[];
  /** Proposals included by value (DAVE forbids them). */
  inlineProposals: number;
  /** The committer's new leaf node from the update path, if any. */
  pathLeaf: { identity: Uint8Array | null; signatureKey: Uint8Array } | null;
  /** The Welcome (bare, RFC 9420 §12.4.3.1), if one followed the commit. */
  welcome: Welcome | null;
}

/**
 * Splits op 28 `[MLSMessage commit][optional Welcome]`: the boundary is where decoding the
 * first MLSMessage stopped. The commit must be a PublicMessage from a member.
 */
export function parseCommitWelcome(payload: Uint8Array): { ok: true; value: ParsedCommitWelcome } | { ok: false; reason: string } {
  let decoded: [MLSMessage, number] | undefined;
  try {
    decoded = decodeMlsMessage(payload, 0);
  } catch {
    decoded = undefined;
  }
  if (!decoded) return { ok: false, reason: 'undecodable commit message' };
  const [msg, end] = decoded; // decoded from offset 0: bytes consumed = end of the commit
  if (msg.wireformat !== 'mls_public_message') return { ok: false, reason: `commit is a ${msg.wireformat}, not a public message` };
  const { content } = msg.publicMessage;
  if (content.contentType !== 'commit') return { ok: false, reason: `public message carries a ${content.contentType}` };
  if (content.sender.senderType !== 'member') return { ok: false, reason: `commit sender is ${content.sender.senderType}` };
  const commit: Commit = content.commit;
  const refs: Uint8Array[] = [];
  let inline = 0;
  for (const p of commit.proposals) {
    if (p.proposalOrRefType === 'reference') refs.push(p.reference);
    else inline++;
  }
  let welcome: Welcome | null = null;
  if (end < payload.length) {
    let w: [Welcome, number] | undefined;
    try {
      w = welcomeModule.decodeWelcome(payload, end);
    } catch {
      w = undefined;
    }
    // ts-mls decoders return [value, bytes consumed].
    if (!w || end + w[1] !== payload.length) return { ok: false, reason: 'undecodable welcome after the commit' };
    welcome = w[0];
  }
  const leaf = commit.path?.leafNode;
  return {
    ok: true,
    value: {
      commitMessage: payload.subarray(0, end),
      groupId: content.groupId,
      epoch: content.epoch,
      senderLeaf: content.sender.leafIndex,
      refs,
      inlineProposals: inline,
      pathLeaf: leaf
        ? {
            identity: leaf.credential.credentialType === 'basic' ? leaf.credential.identity : null,
            signatureKey: leaf.signaturePublicKey,
          }
        : null,
      welcome,
    },
  };
}

/** The Welcome restricted to the group secrets of one key package (op 30 is "a targeted subset"). */
export function welcomeFor(welcome: Welcome, keyPackageRef: Uint8Array): Uint8Array | null {
  const secrets = welcome.secrets.filter((s) => equalBytes(s.newMember, keyPackageRef));
  if (secrets.length === 0) return null;
  return welcomeModule.encodeWelcome({ ...welcome, secrets });
}

/** ProposalRef of a proposal the external sender framed as a PublicMessage (RFC 9420 §5.2). */
export async function proposalRef(message: MLSMessage): Promise<Uint8Array> {
  if (message.wireformat !== 'mls_public_message') throw new Error('proposal is not a public message');
  const cs = await daveCiphersuite();
  return authenticatedContentModule.makeProposalRef(
    { wireformat: 'mls_public_message', content: message.publicMessage.content, auth: message.publicMessage.auth },
    cs.hash,
  );
}
