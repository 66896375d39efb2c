// The admin API's shapes (docs/admin.md), as the SPA reads them.

export type FieldType =
  "string" | "text" | "integer" | "number" | "boolean" | "date" | "datetime" | "enum" | "json" | "fk" | "m2m";

export interface Choice {
  value: string | number | boolean;
  label: string;
}

export interface FieldSchema {
  name: string;
  label: string;
  type: FieldType;
  required: boolean;
  readonly: boolean;
  nullable: boolean;
  choices: Choice[] | null;
  related: string | null;
  max_length: number | null;
  help: string | null;
  /** The backend says whether the field uses the autocomplete endpoint (fk widgets always do here). */
  autocomplete?: boolean;
}

export interface Fieldset {
  title: string | null;
  fields: string[];
}

export interface Inline {
  name: string;
  fk: string;
  /** The inline's own description (the backend sends it; else the registered model's is used). */
  label?: string;
  pk?: string;
  fields?: FieldSchema[];
}

/** What an inline's rows are edited with: its label, pk and fields. */
export interface InlineSchema {
  name: string;
  label: string;
  label_singular: string;
  pk: string;
  fields: FieldSchema[];
}

export interface Action {
  name: string;
  label: string;
  confirm: boolean;
  description: string | null;
}

export interface Permissions {
  view: boolean;
  add: boolean;
  change: boolean;
  delete: boolean;
}

export interface ModelSchema {
  name: string;
  label: string;
  label_singular: string;
  pk: string;
  permissions: Permissions;
  list_display: string[];
  list_filter: string[];
  search: boolean;
  ordering: string[];
  /** Fields the list may be ordered by; absent: any column. */
  sortable?: string[];
  date_hierarchy: string | null;
  fields: FieldSchema[];
  fieldsets: Fieldset[];
  inlines: Inline[];
  actions: Action[];
}

export interface SiteUser {
  id: number;
  username: string;
  is_superuser: boolean;
}

export interface Site {
  user: SiteUser;
  models: ModelSchema[];
  /** Whether the assistant panel can run (an AI model is configured). */
  assistant?: boolean;
}

/** A write the assistant proposes, waiting for the user's decision. */
export interface ProposedChange {
  id: string;
  tool: string;
  args: Record<string, unknown>;
  summary: string;
}

/** An answer of POST /admin/api/assistant (and /assistant/approve). */
export interface AssistantAnswer {
  answer: string | null;
  /** Pydantic AI's message history: sent back as is with the next question or the decisions. */
  history: unknown;
  pending: ProposedChange[];
}

export type Row = Record<string, unknown>;

export interface Page {
  items: Row[];
  next: string | null;
  previous: string | null;
  total: number;
  total_is_estimate: boolean;
}

export interface FacetValue {
  value: string | number | boolean | null;
  label: string;
  count: number;
}

export interface Facets {
  field: string;
  values: FacetValue[];
}

export interface Option {
  pk: string | number;
  label: string;
}

export interface DeletePreview {
  object: Row;
  /** Rows of other models that refer to the object; on_delete says what happens to them (CASCADE: deleted). */
  cascades: { model: string; count: number; label?: string; field?: string; on_delete?: string }[];
}

export interface ActionResult {
  done: number;
  message: string;
}

export interface HistoryEntry {
  at: string;
  actor: string | { id: number; username: string } | null;
  /** The tool, admin action or task that wrote. */
  via?: string | null;
  object_repr?: string;
  action: string;
  surface: string;
  on_behalf_of: string | null;
  changes: unknown;
}

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  errors?: FieldError[];
}
