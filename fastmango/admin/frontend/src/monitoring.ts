// The monitoring pages' API (fastmango/monitoring: routes.py, task_monitor.py, logstream_api.py): their shapes,
// whether the user may see them (one probe), and server-sent events read through fetch (for the bearer header).
import { reactive } from "vue";
import { ApiError, api, send, session } from "./api";

export const MONITORING = "/admin/api/monitoring";

export type Window = "15m" | "1h" | "24h";

export interface RouteStat {
  route: string;
  method: string;
  requests: number;
  errors: number;
  avg_ms: number;
  p95_ms: number | null;
}

export interface StatementStat {
  shape: string;
  count: number;
  total_ms: number;
  avg_ms: number;
  sql: string | null;
}

export interface TaskStat {
  task: string;
  queued: number;
  succeeded: number;
  retried: number;
  failed: number;
  avg_runtime_ms: number | null;
  p95_runtime_ms: number | null;
  avg_wait_ms: number | null;
}

export interface TimelinePoint {
  at: string;
  requests: number;
  errors: number;
  p95_ms: number | null;
}

export interface WindowSummary {
  seconds: number;
  resolution: "minute" | "hour";
  start: string;
  end: string;
  requests: number;
  request_rate: number;
  errors: number;
  client_errors: number;
  error_rate: number;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_p99_ms: number | null;
  statements: number;
  statements_per_request: number;
  statement_avg_ms: number | null;
  slow_statement_count: number;
  slow_statements: StatementStat[];
  slowest_routes: RouteStat[];
  tasks: {
    queued: number;
    succeeded: number;
    retried: number;
    failed: number;
    failure_rate: number;
    runtime_p95_ms: number | null;
    wait_avg_ms: number | null;
    by_task: TaskStat[];
  };
  ai: {
    requests: number;
    errors: number;
    input_tokens: number;
    output_tokens: number;
    cost: number;
    cache_hits: number;
    cache_hit_rate: number;
    tool_calls: number;
  };
  timeline: TimelinePoint[];
  processes: number;
  queue_depth: Record<string, number>;
}

export type JobStateName = "queued" | "started" | "retried" | "succeeded" | "failed" | "aborted";
export const JOB_STATES: JobStateName[] = ["queued", "started", "retried", "succeeded", "failed", "aborted"];

export interface JobSummary {
  job_id: string;
  task: string;
  state: JobStateName;
  attempt: number;
  max_attempts: number;
  first_at: string;
  last_at: string;
  duration: number | null;
  error: string | null;
  worker: string | null;
}

export interface JobPage {
  items: JobSummary[];
  limit: number;
  offset: number;
  next_offset: number | null;
}

export interface JobEvent {
  event: string;
  at: string;
  attempt: number;
  max_attempts: number;
  wait: number | null;
  duration: number | null;
  error: string | null;
  run_at: string | null;
  worker: string | null;
}

export interface JobDetail {
  job: JobSummary;
  events: JobEvent[];
  info: { args: Record<string, unknown>; result: unknown; run_at: string; error: string | null } | null;
}

export interface ScheduledTask {
  task: string;
  cron: string;
  next_run: string;
  last_run: string | null;
  last_outcome: string | null;
  last_error: string | null;
  last_job_id: string | null;
}

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  queue: string;
  tasks: string[];
  started_at: string;
  beat_at: string;
  jobs_running: number;
  jobs_complete: number;
  jobs_failed: number;
  jobs_retried: number;
}

export interface Workers {
  backend: string;
  queue: string;
  alive: boolean;
  workers: WorkerInfo[];
  detail: string;
}

export interface LogRecord {
  id: string;
  time: string;
  timestamp: number;
  level: string;
  levelno: number;
  logger: string;
  message: string;
  request_id: string | null;
  exception: { type: string; message: string } | null;
  process: number;
  extra?: Record<string, unknown>;
}

export interface LogStatus {
  fanout?: string;
  redis?: string | null;
  detail?: string;
}

/**
 * Whether the user may see the monitoring pages: "unknown" until probed, "allowed", "forbidden" (a 403: staff
 * without monitoring.view) or "missing" (the app serves no monitoring API). `change` is whether they may retry
 * and abort jobs (monitoring.change), null until known.
 */
export const monitoring = reactive<{
  access: "unknown" | "allowed" | "forbidden" | "missing";
  change: boolean | null;
}>({ access: "unknown", change: null });

let probing: Promise<void> | null = null;

/** Ask once per login what the user may do (monitoring.view shows the pages, monitoring.change the buttons). */
export function probeMonitoring(): Promise<void> {
  if (monitoring.access !== "unknown" || !session.tokens) return Promise.resolve();
  probing ??= (async () => {
    try {
      const access = await api<{ view: boolean; change: boolean }>("GET", `${MONITORING}/access`);
      monitoring.access = access.view ? "allowed" : "forbidden";
      monitoring.change = access.change;
    } catch (error) {
      if (error instanceof ApiError && error.status === 403) monitoring.access = "forbidden";
      else if (error instanceof ApiError && error.status === 404) monitoring.access = "missing";
    } finally {
      probing = null;
    }
  })();
  return probing;
}

/** Whether the user holds monitoring.change (known once the access is probed). */
export async function probeChange(): Promise<boolean> {
  await probeMonitoring();
  return monitoring.change ?? false;
}

/** Forget what was probed (log out, another user). */
export function forgetMonitoring(): void {
  monitoring.access = "unknown";
  monitoring.change = null;
}

/** A 403 from any monitoring call: the pages are refused from now on. */
export function refusedBy(error: unknown): boolean {
  if (error instanceof ApiError && error.status === 403) {
    monitoring.access = "forbidden";
    return true;
  }
  return false;
}

export interface ServerEvent {
  event: string;
  data: string;
  id: string | null;
}

/**
 * Reads a text/event-stream response (the WHATWG format: fields up to a blank line, `data` lines joined, comments
 * ignored) and calls `onEvent` for each event, until the stream ends or `signal` aborts. EventSource cannot send
 * the Authorization header, so this goes through `send()`: the bearer token, and one refresh on a 401.
 * Resolves when the server closes the stream; rejects with ApiError on a non-2xx answer.
 */
export async function readEvents(
  path: string,
  onEvent: (event: ServerEvent) => void,
  signal: AbortSignal,
  lastEventId?: string | null,
): Promise<void> {
  const headers: Record<string, string> = { Accept: "text/event-stream", "Cache-Control": "no-store" };
  if (lastEventId) headers["Last-Event-ID"] = lastEventId;
  const response = await send(path, { headers, signal, cache: "no-store" });
  if (!response.ok || !response.body) {
    let detail = "";
    try {
      const body = (await response.json()) as { detail?: unknown; title?: string };
      detail = typeof body.detail === "string" ? body.detail : "";
    } catch {
      // not JSON
    }
    throw new ApiError({ status: response.status, title: response.statusText || "Stream failed", detail });
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | null = null;
  const line = (text: string): void => {
    if (text === "") {
      if (data.length) onEvent({ event: event || "message", data: data.join("\n"), id });
      event = "";
      data = [];
      id = null;
      return;
    }
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      // Lines end with \r\n, \n or \r; a trailing \r may be the first half of a \r\n still to come.
      let match: RegExpExecArray | null;
      const ending = /\r\n|\n|\r(?!$)/g;
      let start = 0;
      while ((match = ending.exec(buffer)) !== null) {
        line(buffer.slice(start, match.index));
        start = match.index + match[0].length;
      }
      buffer = buffer.slice(start);
    }
  } finally {
    reader.releaseLock();
  }
}

/** "1.2 ms", "340 ms", "2.5 s"; "—" for no value. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value >= 1000) return `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)} s`;
  return `${value >= 100 ? Math.round(value) : value.toFixed(value >= 10 ? 1 : 2)} ms`;
}

/** Seconds (the task API's durations) as ms(). */
export function seconds(value: number | null | undefined): string {
  return value === null || value === undefined ? "—" : ms(value * 1000);
}

export function percent(value: number): string {
  return `${(value * 100).toFixed(value > 0 && value < 0.01 ? 2 : 1)}%`;
}

/** A time of today as the time alone ("20:02:08"), another day's with its date. */
export function when(value: string | null | undefined): string {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.valueOf())) return value;
  if (date.toDateString() === new Date().toDateString()) return date.toLocaleTimeString();
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
