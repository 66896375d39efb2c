// How values read on screen, and how form values go back to the API.
import { labelFor } from "./labels";
import { modelOf } from "./store";
import type { FieldSchema, ModelSchema, Option, Row } from "./types";

/** Columns that name a row, in the order fastmango.api.labels picks them. */
const LABEL_FIELDS = ["_label", "name", "title", "username", "codename", "label", "email", "slug"];

/** A nested row's name: its _label, else its first naming column; null when it has none. */
export function rowName(row: Row): string | null {
  for (const name of LABEL_FIELDS) {
    const value = row[name];
    if (typeof value === "string" && value) return value;
  }
  return null;
}

/** "PostTag" -> "post tag". */
export function words(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replaceAll("_", " ")
    .toLowerCase();
}

export function isOption(value: unknown): value is Option {
  return typeof value === "object" && value !== null && "pk" in value;
}

/** A relation value as the API may send it: a pk, or {pk, label}; a bare pk gets label "" (see optionText). */
export function optionOf(value: unknown): Option | null {
  if (value === null || value === undefined || value === "") return null;
  if (isOption(value)) return { pk: value.pk, label: String(value.label ?? "") };
  return { pk: value as string | number, label: "" };
}

/** The text of an option: its label, or the related row's label fetched by pk. */
export function optionText(option: Option | null, related: string | null): string {
  if (!option) return "";
  if (option.label) return option.label;
  return related ? labelFor(related, option.pk) : `#${String(option.pk)}`;
}

export function pkOf(value: unknown): unknown {
  return isOption(value) ? value.pk : value;
}

export function display(value: unknown, field?: FieldSchema): string {
  if (value === null || value === undefined) return "—";
  if (field?.choices) {
    const choice = field.choices.find((c) => String(c.value) === String(value));
    if (choice) return choice.label;
  }
  if (typeof value === "boolean") return value ? "Yes" : "No";
  const related = field?.type === "fk" || field?.type === "m2m" ? field.related : null;
  if (related && (typeof value === "number" || typeof value === "string")) return labelFor(related, value);
  if (Array.isArray(value)) return value.map((item) => display(item, field)).join(", ") || "—";
  if (isOption(value)) return String(value.label ?? value.pk);
  if (typeof value === "object" && !Array.isArray(value)) {
    const named = rowName(value as Row);
    if (named) return named;
  }
  if (field?.type === "datetime" && typeof value === "string") {
    const date = new Date(value);
    return Number.isNaN(date.valueOf()) ? value : date.toLocaleString();
  }
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function fieldOf(model: ModelSchema, name: string): FieldSchema | undefined {
  return model.fields.find((field) => field.name === name);
}

/** The query parameter of a list_filter entry: a field filters as itself, a many-to-many relation on its
 * rows' key ("tags__id"), a foreign-key relation on its column ("author" -> "author_id"). */
export function filterParam(model: ModelSchema, name: string): string {
  const field = fieldOf(model, name);
  if (field?.type === "m2m") return `${name}__${(field.related && modelOf(field.related)?.pk) || "id"}`;
  if (!field && fieldOf(model, `${name}_id`)?.type === "fk") return `${name}_id`;
  return name;
}

/** "author__name" reads "Author name" when the schema has no label for it. */
export function labelOf(model: ModelSchema, name: string): string {
  const field = fieldOf(model, name);
  if (field) return field.label;
  const words = name.replace(/^-/, "").split("__").join(" ").replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The label the API gives a foreign key's row: "author_id" -> row.author._label, when it was loaded. */
export function relatedLabel(row: Row, name: string): string | null {
  const nested = row[name.replace(/_id$/, "")] ?? row[name];
  if (nested && typeof nested === "object" && "_label" in nested) return String((nested as Row)._label);
  return null;
}

/** A list cell: a foreign key reads as its row's label. */
export function cellOf(model: ModelSchema, row: Row, name: string): string {
  const field = fieldOf(model, name);
  if (field?.type === "fk") {
    const label = relatedLabel(row, name);
    if (label) return label;
  }
  return display(row[name], field);
}

/** What a row is called: its label from the API, else its first displayed column, else its pk. */
export function titleOf(model: ModelSchema, row: Row): string {
  if (typeof row._label === "string" && row._label) return row._label;
  const first = model.list_display.find((name) => name !== model.pk) ?? model.fields[0]?.name;
  const value = first ? row[first] : undefined;
  return value === undefined || value === null || value === "" ? `#${String(row[model.pk])}` : display(value);
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** An ISO date-time to the local "YYYY-MM-DDTHH:MM" of <input type="datetime-local">. */
export function toLocalInput(value: unknown): string {
  if (typeof value !== "string" || !value) return "";
  const date = new Date(value);
  if (Number.isNaN(date.valueOf())) return value;
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
    `T${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** A form's value of one field, as the input holds it. */
export function toInput(field: FieldSchema, value: unknown): unknown {
  switch (field.type) {
    case "boolean":
      return Boolean(value);
    case "datetime":
      return toLocalInput(value);
    case "date":
      return typeof value === "string" ? value.slice(0, 10) : "";
    case "json":
      return value === undefined ? "" : JSON.stringify(value, null, 2);
    case "fk":
      return optionOf(value);
    case "m2m":
      return Array.isArray(value) ? value.map(optionOf).filter((o): o is Option => o !== null) : [];
    case "integer":
    case "number":
      return value === null || value === undefined ? "" : String(value);
    default:
      return value === null || value === undefined ? "" : value;
  }
}

/** The input's value back to JSON for the API; throws SyntaxError on bad JSON. */
export function fromInput(field: FieldSchema, value: unknown): unknown {
  const empty = value === "" || value === null || value === undefined;
  switch (field.type) {
    case "boolean":
      return Boolean(value);
    case "integer":
    case "number":
      return empty ? null : Number(value);
    case "datetime":
      return empty ? null : new Date(String(value)).toISOString();
    case "date":
      return empty ? null : value;
    case "json":
      return empty ? null : JSON.parse(String(value));
    case "fk":
      return isOption(value) ? value.pk : null;
    case "m2m":
      return Array.isArray(value) ? value.map(pkOf) : [];
    case "enum": {
      if (empty) return null;
      const choice = field.choices?.find((c) => String(c.value) === String(value));
      return choice ? choice.value : value;
    }
    default:
      return empty && field.nullable ? null : (value ?? "");
  }
}
