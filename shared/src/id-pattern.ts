/**
 * The one spelling of the id alphabet: stream ids, node ids and rendition-safe names end up in
 * MQTT topics, URLs and file paths, so they are 1-64 characters of `[A-Za-z0-9_-]` everywhere.
 * No imports: the router (Deno, Bun, workers) loads this file directly.
 */
export const ID_CHARS = "[A-Za-z0-9_-]{1,64}";

/** A whole string that is an id. */
export const SAFE_ID = new RegExp(`^${ID_CHARS}$`);

/** The same rule as a JSON-schema `pattern`. */
export const ID_PATTERN = `^${ID_CHARS}$`;
