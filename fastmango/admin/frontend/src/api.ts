// HTTP to the admin API: the bearer token, one refresh on a 401 (POST /auth/refresh), problem details as errors.
import { reactive } from "vue";
import type { Problem } from "./types";

interface Tokens {
  access: string;
  refresh: string;
}

const STORAGE_KEY = "fastmango-admin-tokens";

function stored(): Tokens | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    const parsed = raw ? (JSON.parse(raw) as Partial<Tokens>) : null;
    return parsed?.access && parsed.refresh ? { access: parsed.access, refresh: parsed.refresh } : null;
  } catch {
    return null;
  }
}

/** The tokens live in memory and in sessionStorage (they last as long as the tab, not the browser). */
export const session = reactive<{ tokens: Tokens | null }>({ tokens: stored() });

function keep(tokens: Tokens | null): void {
  session.tokens = tokens;
  if (tokens) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** A response that is not 2xx, with its RFC 9457 problem details. */
export class ApiError extends Error {
  readonly problem: Problem;

  constructor(problem: Problem) {
    super(problem.detail || problem.title || `HTTP ${problem.status}`);
    this.problem = problem;
  }

  get status(): number {
    return this.problem.status;
  }
}

async function problemOf(response: Response): Promise<Problem> {
  let body: Partial<Problem> & { detail?: unknown } = {};
  try {
    body = (await response.json()) as typeof body;
  } catch {
    // not JSON: keep the status alone
  }
  // FastAPI's own 422 puts a list in detail; problem details put a string there.
  const detail = typeof body.detail === "string" ? body.detail : undefined;
  return { ...body, detail, status: response.status, title: body.title || response.statusText };
}

type Tokenish = { access_token: string; refresh_token: string };

let refreshing: Promise<boolean> | null = null;

/** One refresh at a time, shared by every request that got a 401 meanwhile. */
function refreshTokens(): Promise<boolean> {
  const refresh = session.tokens?.refresh;
  if (!refresh) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const response = await fetch("/auth/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ refresh_token: refresh }),
      });
      if (!response.ok) {
        keep(null);
        return false;
      }
      const body = (await response.json()) as Tokenish;
      keep({ access: body.access_token, refresh: body.refresh_token });
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** fetch() with the access token; on a 401 it refreshes the tokens once and tries again. */
export async function send(path: string, init: RequestInit = {}): Promise<Response> {
  const attempt = (): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    if (session.tokens) headers.set("Authorization", `Bearer ${session.tokens.access}`);
    return fetch(path, { ...init, headers });
  };
  const response = await attempt();
  if (response.status === 401 && session.tokens) {
    if (await refreshTokens()) return attempt();
    keep(null);
  }
  return response;
}

export type Query = Record<string, string | number | boolean | null | undefined | (string | number)[]>;

/** A query string from the values that are set; lists repeat the key. */
export function queryString(query: Query = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((item) => params.append(key, String(item)));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** A JSON call; a non-2xx answer throws ApiError. */
export async function api<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { "Content-Type": "application/json" };
  }
  const response = await send(path + queryString(query), init);
  if (!response.ok) throw new ApiError(await problemOf(response));
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** POST /auth/token with the OAuth2 password form. */
export async function login(username: string, password: string): Promise<void> {
  const response = await fetch("/auth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({ username, password }),
  });
  if (!response.ok) throw new ApiError(await problemOf(response));
  const body = (await response.json()) as Tokenish;
  keep({ access: body.access_token, refresh: body.refresh_token });
}

/** POST /auth/logout revokes both tokens; they are forgotten here whatever the server says. */
export async function logout(): Promise<void> {
  const tokens = session.tokens;
  keep(null);
  if (!tokens) return;
  try {
    await fetch("/auth/logout", {
      method: "POST",
      headers: { Authorization: `Bearer ${tokens.access}`, "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: tokens.refresh }),
    });
  } catch {
    // offline: the tokens expire by themselves
  }
}

/** A download through fetch (the export needs the Authorization header, which a plain link cannot send). */
export async function download(path: string, filename: string): Promise<void> {
  const response = await send(path, { headers: { Accept: "text/csv" } });
  if (!response.ok) throw new ApiError(await problemOf(response));
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A message for a person from any error. */
export function messageOf(error: unknown): string {
  if (error instanceof ApiError) {
    const { title, detail, status } = error.problem;
    return detail && detail !== title ? `${title}: ${detail}` : title || `HTTP ${status}`;
  }
  return error instanceof Error ? error.message : String(error);
}
