/**
 * Control's API from the browser. The key lives in sessionStorage (gone with the tab, never in a
 * URL) and goes out only as a bearer header to this same origin.
 */
const KEY = "dionysia.apiKey";

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  set: (key: string) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export async function api<T>(method: string, path: string, body?: unknown, key = session.key()): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${key ?? ""}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
    credentials: "omit",
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: the error body is read defensively
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    if (res.status === 401 && key === session.key()) onUnauthorized();
    throw new ApiError(
      res.status,
      json?.error?.code ?? "http_error",
      json?.error?.message ?? `HTTP ${res.status}`,
    );
  }
  return json as T;
}

/** Every page of a cursor-paginated list. */
export async function listAll<T>(path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const q: string = `${path}?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page: { items: T[]; nextCursor: string | null } = await api("GET", q);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}
