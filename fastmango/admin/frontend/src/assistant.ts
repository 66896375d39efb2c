// The assistant's conversation: the transcript, Pydantic AI's message history (opaque, sent back with every
// request) and the writes waiting for a decision. It outlives the panel (closing it keeps the conversation).
import { reactive } from "vue";
import { api, messageOf } from "./api";
import { announce } from "./store";
import type { AssistantAnswer, ProposedChange } from "./types";

export interface Said {
  id: number;
  who: "user" | "assistant" | "note";
  text: string;
}

export const conversation = reactive<{
  transcript: Said[];
  history: unknown;
  pending: ProposedChange[];
  busy: boolean;
  error: string;
  /** Counts the runs that made approved changes: the current screen reloads its rows. */
  revision: number;
}>({ transcript: [], history: null, pending: [], busy: false, error: "", revision: 0 });

let serial = 0;

function say(who: Said["who"], text: string): void {
  conversation.transcript.push({ id: ++serial, who, text });
}

function take(answer: AssistantAnswer): void {
  conversation.history = answer.history;
  conversation.pending = answer.pending;
  if (answer.answer) {
    say("assistant", answer.answer);
    announce(`The assistant answered: ${answer.answer}`);
  }
  if (answer.pending.length) announce(`The assistant proposes ${answer.pending.length} change(s) to confirm.`);
}

async function run(path: string, body: unknown): Promise<boolean> {
  conversation.busy = true;
  conversation.error = "";
  try {
    take(await api<AssistantAnswer>("POST", path, body));
    return true;
  } catch (error) {
    conversation.error = messageOf(error);
    return false;
  } finally {
    conversation.busy = false;
  }
}

/** Ask a question, going on from the conversation so far. */
export async function ask(message: string): Promise<void> {
  say("user", message);
  await run("/admin/api/assistant", { message, history: conversation.history });
}

/** Send the user's decision on each proposed change (true: approve); the run goes on. */
export async function decide(decisions: Record<string, boolean>): Promise<void> {
  const changes = conversation.pending;
  const approved = changes.filter((change) => decisions[change.id]);
  const rejected = changes.filter((change) => !decisions[change.id]);
  if (approved.length) say("note", `Approved: ${approved.map((change) => change.summary).join("; ")}`);
  if (rejected.length) say("note", `Rejected: ${rejected.map((change) => change.summary).join("; ")}`);
  conversation.pending = [];
  const done = await run("/admin/api/assistant/approve", { history: conversation.history, decisions });
  if (!done)
    conversation.pending = changes; // nothing was decided: ask again
  else if (approved.length) conversation.revision += 1;
}

/** Start over (a new conversation; also on log out). */
export function forget(): void {
  conversation.transcript = [];
  conversation.history = null;
  conversation.pending = [];
  conversation.error = "";
}
