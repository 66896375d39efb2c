// What the SPA knows: the site schema of the current user, a status line read out to screen readers,
// and the one confirmation dialog.
import { reactive } from "vue";
import { ApiError, api, messageOf, session } from "./api";
import type { ModelSchema, Site } from "./types";

export const state = reactive<{
  site: Site | null;
  /** "forbidden": logged in but not staff (403); other strings are load errors. */
  error: string | null;
  loading: boolean;
}>({ site: null, error: null, loading: false });

export async function loadSite(): Promise<void> {
  if (!session.tokens) {
    state.site = null;
    return;
  }
  state.loading = true;
  state.error = null;
  try {
    state.site = await api<Site>("GET", "/admin/api/site");
  } catch (error) {
    state.site = null;
    if (error instanceof ApiError && error.status === 403) state.error = "forbidden";
    else if (!(error instanceof ApiError && error.status === 401)) state.error = messageOf(error);
  } finally {
    state.loading = false;
  }
}

export function modelOf(name: string): ModelSchema | undefined {
  return state.site?.models.find((model) => model.name === name);
}

/** The polite status line (role="status"): saved, deleted, action results. */
export const notice = reactive<{ text: string; serial: number }>({ text: "", serial: 0 });

export function announce(text: string): void {
  notice.text = text;
  notice.serial += 1;
}

interface ConfirmRequest {
  title: string;
  body: string;
  items: string[];
  confirmLabel: string;
  danger: boolean;
  resolve: (ok: boolean) => void;
}

export const confirmation = reactive<{ request: ConfirmRequest | null }>({ request: null });

/** Asks in a modal dialog; resolves true when confirmed. */
export function confirm(options: Partial<Omit<ConfirmRequest, "resolve">> & { title: string }): Promise<boolean> {
  return new Promise((resolve) => {
    confirmation.request = {
      body: "",
      items: [],
      confirmLabel: "Confirm",
      danger: false,
      ...options,
      resolve: (ok) => {
        confirmation.request = null;
        resolve(ok);
      },
    };
  });
}
