import type { SetForm, Statement, StatementRow } from "./statement.ts";

interface Group {
  /** Its place in the output: where the first of its members was. */
  readonly at: number;
  readonly form: SetForm;
  readonly members: Statement[];
}

/**
 * `statements` with those of one set form joined, in one transaction's order. A statement joins
 * the group of its kind (which runs where its first member was) only if nothing it touches was
 * touched since that place, so no statement moves ahead of one it depends on. A statement without
 * a set form is a barrier: no statement after it joins a group before it.
 */
export function joinStatements(statements: readonly Statement[]): readonly Statement[] {
  if (statements.filter((s) => s.many).length < 2) return statements;
  const out: (Statement | Group)[] = [];
  const open = new Map<string, Group>();
  /** The latest place in `out` at which each touched thing was touched. */
  const touched = new Map<string, number>();
  for (const s of statements) {
    const form = s.many;
    if (!form) {
      out.push(s);
      open.clear();
      continue;
    }
    const [type, id] = form.entity;
    const kind = `${form.text}\u0000${type}\u0000${id}`;
    const thing = `${type}\u0000${id}\u0000${form.touches}`;
    const group = open.get(kind);
    const last = touched.get(thing);
    if (group && (last === undefined || last < group.at)) {
      group.members.push(s);
      touched.set(thing, group.at);
      continue;
    }
    const fresh: Group = { at: out.length, form, members: [s] };
    out.push(fresh);
    open.set(kind, fresh);
    touched.set(thing, fresh.at);
  }
  return out.map((x) => ("members" in x ? joined(x) : x));
}

/** One statement for the group's members (the member itself when it is alone); each gets its own rows. */
function joined({ form, members }: Group): Statement {
  const [only] = members;
  if (members.length === 1 && only) return only;
  const rows = JSON.stringify(members.map((m, i) => ({ ...m.many?.row, i })));
  return {
    text: form.text,
    params: [form.entity[0], form.entity[1], rows],
    rows: (found) => {
      const by = members.map((): StatementRow[] => []);
      for (const row of found) by[Number(row.i)]?.push(row);
      for (const [i, m] of members.entries()) m.rows?.(by[i] ?? []);
    },
  };
}
