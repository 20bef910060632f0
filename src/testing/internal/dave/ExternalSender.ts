import { p256 } from '@noble/curves/nist.js';
import { proposeExternal, type GroupInfo, type KeyPackage, type Proposal } from 'ts-mls';
import { DAVE_CIPHERSUITE, daveCiphersuite, encodeExternalSender, encodeMlsMessage, proposalRef } from './mls';

/** A proposal the voice gateway signed, ready for op 27. */
export interface SignedProposal {
  /** The MLSMessage (PublicMessage, sender type external, sender index 0). */
  message: Uint8Array;
  /** Its ProposalRef, as commits reference it. */
  ref: Uint8Array;
}

/**
 * The voice gateway's MLS external sender (daveprotocol.com, "External Sender"): a P-256
 * signature key pair and a basic credential. `serialized` is the TLS-serialized
 * ExternalSender sent in op 25; `propose` frames and signs external Add/Remove proposals.
 */
export class DaveExternalSender {
  private constructor(
    /** Uncompressed SEC1 P-256 public key (65 bytes). */
    readonly publicKey: Uint8Array,
    private readonly secretKey: Uint8Array,
    /** Basic credential identity. */
    readonly identity: Uint8Array,
    /** `ExternalSender` (signature_key, credential), the op 25 payload. */
    readonly serialized: Buffer,
  ) {}

  static async create(identity: Uint8Array = Buffer.from('rxvoice voice gateway')): Promise<DaveExternalSender> {
    // P-256 keys from @noble/curves (what ts-mls signs with); the public key uncompressed (SEC1).
    const secretKey = p256.utils.randomSecretKey();
    const publicKey = p256.getPublicKey(secretKey, false);
    const serialized = Buffer.from(
      encodeExternalSender({ signaturePublicKey: publicKey, credential: { credentialType: 'basic', identity } }),
    );
    await daveCiphersuite();
    return new DaveExternalSender(publicKey, secretKey, identity, serialized);
  }

  /** External Add proposal for a (validated) key package. */
  proposeAdd(groupId: Uint8Array, epoch: bigint, keyPackage: KeyPackage): Promise<SignedProposal> {
    return this.propose(groupId, epoch, { proposalType: 'add', add: { keyPackage } });
  }

  /** External Remove proposal for a leaf index. */
  proposeRemove(groupId: Uint8Array, epoch: bigint, leafIndex: number): Promise<SignedProposal> {
    return this.propose(groupId, epoch, { proposalType: 'remove', remove: { removed: leafIndex } });
  }

  /**
   * Signs `proposal` for `(groupId, epoch)` with ts-mls `proposeExternal`. The delivery service
   * has no GroupInfo; for an external sender the signed FramedContentTBS holds no group context
   * (RFC 9420 §6.1), so a GroupInfo carrying only version, ciphersuite, group id, epoch and the
   * external_senders extension is enough. ts-mls takes the sender index from the position of
   * the matching external_senders extension: one extension → `sender_index = 0`.
   */
  private async propose(groupId: Uint8Array, epoch: bigint, proposal: Proposal): Promise<SignedProposal> {
    const cs = await daveCiphersuite();
    const groupInfo: GroupInfo = {
      groupContext: {
        version: 'mls10',
        cipherSuite: DAVE_CIPHERSUITE,
        groupId,
        epoch,
        treeHash: new Uint8Array(0),
        confirmedTranscriptHash: new Uint8Array(0),
        extensions: [{ extensionType: 'external_senders', extensionData: this.serialized }],
      },
      extensions: [],
      confirmationTag: new Uint8Array(0),
      signer: 0,
      signature: new Uint8Array(0),
    };
    const message = await proposeExternal(groupInfo, proposal, this.publicKey, this.secretKey, cs);
    if (message.wireformat !== 'mls_public_message' || message.publicMessage.content.sender.senderType !== 'external') {
      throw new Error('ts-mls did not frame an external proposal');
    }
    return { message: encodeMlsMessage(message), ref: await proposalRef(message) };
  }
}
