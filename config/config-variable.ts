import type { z } from 'zod';

/** A variable's value, or the problem with it (naming the variable and the text it had). */
export type VariableReading<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * One environment variable of the configuration: its name (the public contract), the schema that
 * validates its text and turns it into a value, its default and what it means. The default is in
 * the environment's own form, a string, so that it goes through the same schema as a set value.
 */
export class ConfigVariable<S extends z.ZodType = z.ZodType> {
  readonly env: `TICKS_${string}`;
  readonly schema: S;
  readonly default: string;
  readonly doc: string;
  /** How the text is shown in a problem (a secret, a URL with a password); as it is by default. */
  readonly shown: (raw: string) => string;

  constructor(spec: VariableSpec<S>) {
    this.env = spec.env;
    this.schema = spec.schema;
    this.default = spec.default;
    this.doc = spec.doc;
    this.shown = spec.shown ?? ((raw) => JSON.stringify(raw));
  }

  read(environment: NodeJS.ProcessEnv): VariableReading<z.output<S>> {
    const raw = environment[this.env] ?? this.default;
    const result = this.schema.safeParse(raw);
    if (result.success) return { ok: true, value: result.data };
    const messages = result.error.issues.map((i) => i.message).join('; ');
    return { ok: false, problem: `${this.env}=${this.shown(raw)}: ${messages}` };
  }
}

interface VariableSpec<S extends z.ZodType> {
  env: `TICKS_${string}`;
  schema: S;
  default: string;
  doc: string;
  shown?: (raw: string) => string;
}

export function variable<S extends z.ZodType>(spec: VariableSpec<S>): ConfigVariable<S> {
  return new ConfigVariable(spec);
}

/**
 * The configuration's variables, laid out as the configuration object is: a variable's place in
 * the table is its path in the object (`{ kafka: { brokers: variable(...) } }` gives
 * `config.kafka.brokers`).
 */
export interface ConfigTable {
  readonly [key: string]: ConfigVariable | ConfigTable;
}

/** The configuration object a table describes: each variable replaced by its schema's output. */
export type ConfigOf<T extends ConfigTable> = {
  -readonly [K in keyof T]: T[K] extends ConfigVariable<infer S>
    ? z.output<S>
    : T[K] extends ConfigTable
      ? ConfigOf<T[K]>
      : never;
};

/** The table with each variable replaced by its environment name (for messages). */
export type EnvNamesOf<T extends ConfigTable> = {
  readonly [K in keyof T]: T[K] extends ConfigVariable
    ? string
    : T[K] extends ConfigTable
      ? EnvNamesOf<T[K]>
      : never;
};

/** Every variable of a table with its dotted path, in table order. */
export function listVariables(
  table: ConfigTable,
  prefix = '',
): Array<{ path: string; variable: ConfigVariable }> {
  return Object.entries(table).flatMap(([key, node]) =>
    node instanceof ConfigVariable
      ? [{ path: prefix + key, variable: node }]
      : listVariables(node, `${prefix}${key}.`),
  );
}

/**
 * Reads every variable of the table from the environment, in table order, into the object the
 * table describes. A variable that does not validate adds its problem and leaves its place empty,
 * so the object is whole only when `problems` gained nothing.
 */
export function readTable<T extends ConfigTable>(
  table: T,
  environment: NodeJS.ProcessEnv,
  problems: string[],
): ConfigOf<T> {
  const object: Record<string, unknown> = {};
  for (const [key, node] of Object.entries(table)) {
    if (node instanceof ConfigVariable) {
      const reading = node.read(environment);
      if (reading.ok) object[key] = reading.value;
      else problems.push(reading.problem);
    } else object[key] = readTable(node, environment, problems);
  }
  // The loop above builds exactly the shape ConfigOf<T> computes from the same table.
  return object as ConfigOf<T>;
}

/** The table's environment names, laid out like the configuration object. */
export function envNames<T extends ConfigTable>(table: T): EnvNamesOf<T> {
  const names: Record<string, unknown> = {};
  for (const [key, node] of Object.entries(table))
    names[key] = node instanceof ConfigVariable ? node.env : envNames(node);
  return names as EnvNamesOf<T>;
}
