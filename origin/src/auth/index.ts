export {
  type AccessPolicy,
  type AccessPolicyOptions,
  createAccessPolicy,
  type ReadRequest,
} from "./access.ts";
export { createKeyAuthority, type KeyAuthorityOptions } from "./key-authority.ts";
export {
  type Authorization,
  describeRefusal,
  PUBLISH_REFUSALS,
  type PublishDecision,
  type PublishRefusal,
} from "./publish-refusal.ts";
export { deriveRelaySecret, relayUrl, signRelayToken, verifyRelayToken } from "./relay-token.ts";
