export { type Authorization, createKeyAuthority, type KeyAuthorityOptions } from "./key-authority.ts";
export { deriveRelaySecret, relayUrl, signRelayToken, verifyRelayToken } from "./relay-token.ts";
