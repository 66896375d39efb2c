// Labels of related rows, for foreign keys the API sends as bare primary keys: fetched once each, cached.
import { reactive } from "vue";
import { api } from "./api";
import type { Row } from "./types";

/** Columns that name a row, in the order fastmango.api.labels picks them. */
const LABEL_FIELDS = ["name", "title", "username", "codename", "label", "email", "slug"];

const cache = reactive<Record<string, string>>({});
const pending = new Set<string>();

export function labelOfRow(row: Row, pk: unknown): string {
  if (typeof row._label === "string" && row._label) return row._label;
  for (const name of LABEL_FIELDS) {
    const value = row[name];
    if (value !== undefined && value !== null && value !== "") return String(value);
  }
  return `#${String(pk)}`;
}

/** The label of ``related`` row ``pk``; "#pk" until it is known (the cache is reactive). */
export function labelFor(related: string, pk: unknown): string {
  const key = `${related}:${String(pk)}`;
  const known = cache[key];
  if (known !== undefined) return known;
  if (!pending.has(key)) {
    pending.add(key);
    api<Row>("GET", `/admin/api/models/${related}/${String(pk)}`)
      .then((row) => {
        cache[key] = labelOfRow(row, pk);
      })
      .catch(() => {
        cache[key] = `#${String(pk)}`;
      });
  }
  return `#${String(pk)}`;
}

export function rememberLabel(related: string, pk: unknown, label: string): void {
  cache[`${related}:${String(pk)}`] = label;
}
