// Labels of related rows, for foreign keys and many-to-many keys the API sends as bare primary keys: asked for
// in one GET .../autocomplete?pks=1,2,3 per model and tick, then cached (the cache is reactive).
import { reactive } from "vue";
import { api } from "./api";
import type { Option } from "./types";

const cache = reactive<Record<string, string>>({});
const asked = new Set<string>();
const queued = new Map<string, Set<string>>();
let scheduled = false;

async function flush(): Promise<void> {
  scheduled = false;
  const batches = [...queued.entries()];
  queued.clear();
  await Promise.all(
    batches.map(async ([related, pks]) => {
      try {
        const found = await api<{ items: Option[] }>("GET", `/admin/api/models/${related}/autocomplete`, undefined, {
          pks: [...pks].join(","),
          limit: pks.size,
        });
        for (const item of found.items) cache[`${related}:${String(item.pk)}`] = item.label;
      } catch {
        // no view permission on the related model: the keys stay as "#pk"
      }
      for (const pk of pks) cache[`${related}:${pk}`] ??= `#${pk}`;
    }),
  );
}

/** The label of ``related`` row ``pk``; "#pk" until it is known. */
export function labelFor(related: string, pk: unknown): string {
  const key = `${related}:${String(pk)}`;
  const known = cache[key];
  if (known !== undefined) return known;
  if (!asked.has(key)) {
    asked.add(key);
    let pks = queued.get(related);
    if (!pks) queued.set(related, (pks = new Set()));
    pks.add(String(pk));
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(() => void flush());
    }
  }
  return `#${String(pk)}`;
}

export function rememberLabel(related: string, pk: unknown, label: string): void {
  cache[`${related}:${String(pk)}`] = label;
}
