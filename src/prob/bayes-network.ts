/**
 * A discrete Bayesian network, exactly: each node's conditional table given its parents, the joint built as
 * their product, p(x_1, …, x_n) = Π_i p(x_i | parents(x_i)), and the marginals, conditionals and
 * (conditional) mutual information read off that joint. Small enough to enumerate every configuration, so
 * conditional independence can be checked to rounding error instead of being taken on trust.
 *
 * Article 004 ("Variational autoencoders from scratch") states the factorisation with its example
 * p(A, B, C) = p(A) p(B | A) p(C | A) and the rule that a node given its parents is independent of its
 * non-descendants; notebook 02 puts numbers to both.
 */

export interface NetworkNode {
  name: string;
  /** Number of states (values 0 … states − 1). */
  states: number;
  /** Names of the parents; each must be declared before this node. */
  parents: string[];
  /**
   * table[k][v] = p(node = v | parents in their k-th configuration). Configurations are counted with the
   * last parent varying fastest; a node without parents has one row, its marginal.
   */
  table: number[][];
}

/** A joint distribution over named discrete variables: probs[index], the last variable varying fastest. */
export interface JointTable {
  names: string[];
  states: number[];
  probs: number[];
}

function strides(states: number[]): number[] {
  const s = new Array(states.length).fill(1);
  for (let i = states.length - 2; i >= 0; i--) s[i] = s[i + 1] * states[i + 1];
  return s;
}

/** The values of every variable at flat index `index` of a table with these state counts. */
export function configurationAt(states: number[], index: number): number[] {
  const st = strides(states);
  return states.map((_, i) => Math.floor(index / st[i]) % states[i]);
}

/** Checks the network (parents declared first, tables of the right shape, rows that are distributions). */
export function checkNetwork(nodes: NetworkNode[]): void {
  const seen = new Map<string, number>();
  for (const node of nodes) {
    if (seen.has(node.name)) throw new Error(`checkNetwork: node ${node.name} declared twice`);
    if (!(Number.isInteger(node.states) && node.states >= 1)) throw new Error(`checkNetwork: ${node.name} needs a whole number of states ≥ 1 (got ${node.states})`);
    let rows = 1;
    for (const p of node.parents) {
      const s = seen.get(p);
      if (s === undefined) throw new Error(`checkNetwork: ${node.name}'s parent ${p} is not declared before it (the graph must be acyclic, parents first)`);
      rows *= s;
    }
    if (node.table.length !== rows) throw new Error(`checkNetwork: ${node.name} has ${node.table.length} rows, its parents have ${rows} configurations`);
    node.table.forEach((row, k) => {
      const sum = row.reduce((a, b) => a + b, 0);
      if (row.length !== node.states || row.some((v) => !(v >= 0)) || Math.abs(sum - 1) > 1e-9) {
        throw new Error(`checkNetwork: ${node.name}'s row ${k} is not a distribution over ${node.states} states (${row.join(", ")})`);
      }
    });
    seen.set(node.name, node.states);
  }
}

/** The joint p(x_1, …, x_n) = Π_i p(x_i | parents(x_i)), one entry per configuration. */
export function networkJoint(nodes: NetworkNode[]): JointTable {
  checkNetwork(nodes);
  const names = nodes.map((n) => n.name);
  const states = nodes.map((n) => n.states);
  const pos = new Map(names.map((n, i) => [n, i]));
  const size = states.reduce((a, b) => a * b, 1);
  const probs = new Array<number>(size);
  for (let idx = 0; idx < size; idx++) {
    const values = configurationAt(states, idx);
    let p = 1;
    for (const node of nodes) {
      let row = 0;
      for (const parent of node.parents) {
        const j = pos.get(parent)!;
        row = row * states[j] + values[j];
      }
      p *= node.table[row][values[pos.get(node.name)!]];
    }
    probs[idx] = p;
  }
  return { names, states, probs };
}

function indexOf(joint: JointTable, name: string): number {
  const i = joint.names.indexOf(name);
  if (i < 0) throw new Error(`no variable ${name} (the table has ${joint.names.join(", ")})`);
  return i;
}

/** The marginal of the variables `keep` (in that order), the others summed out. */
export function marginalOf(joint: JointTable, keep: string[]): JointTable {
  if (new Set(keep).size !== keep.length) throw new Error(`marginalOf: a variable named twice in ${keep.join(", ")}`);
  const idx = keep.map((n) => indexOf(joint, n));
  const states = idx.map((i) => joint.states[i]);
  const st = strides(states);
  const probs = new Array<number>(states.reduce((a, b) => a * b, 1)).fill(0);
  joint.probs.forEach((p, flat) => {
    const values = configurationAt(joint.states, flat);
    let k = 0;
    idx.forEach((i, j) => (k += values[i] * st[j]));
    probs[k] += p;
  });
  return { names: keep.slice(), states, probs };
}

/** p(variables = values), summing out the rest. */
export function probabilityOf(joint: JointTable, assignment: Record<string, number>): number {
  const names = Object.keys(assignment);
  const m = marginalOf(joint, names);
  const st = strides(m.states);
  return m.probs[names.reduce((k, n, j) => k + assignment[n] * st[j], 0)];
}

/** The marginal tables that compare X and Y given Z: p(x, y, z), p(x, z), p(y, z), p(z), z's configurations first-to-last. */
function pairTables(joint: JointTable, x: string, y: string, given: string[], caller: string) {
  if (x === y || given.includes(x) || given.includes(y)) throw new Error(`${caller}: x, y and the conditioning set must not overlap`);
  const xyz = marginalOf(joint, [x, y, ...given]);
  const z = marginalOf(joint, given);
  return { xyz, xz: marginalOf(joint, [x, ...given]), yz: marginalOf(joint, [y, ...given]), z, zSize: z.probs.length, nx: xyz.states[0], ny: xyz.states[1] };
}

/**
 * Conditional mutual information I(X; Y | Z) in nats = Σ p(x, y, z) log[p(x, y | z) / (p(x | z) p(y | z))]:
 * zero exactly when X ⫫ Y | Z. With `given` empty it is the plain mutual information I(X; Y).
 */
export function conditionalMutualInformation(joint: JointTable, x: string, y: string, given: string[] = []): number {
  const { xyz, xz, yz, z, zSize, nx, ny } = pairTables(joint, x, y, given, "conditionalMutualInformation");
  let mi = 0;
  for (let a = 0; a < nx; a++) {
    for (let b = 0; b < ny; b++) {
      for (let c = 0; c < zSize; c++) {
        const p = xyz.probs[(a * ny + b) * zSize + c];
        if (p > 0) mi += p * Math.log((p * z.probs[c]) / (xz.probs[a * zSize + c] * yz.probs[b * zSize + c]));
      }
    }
  }
  return Math.max(0, mi); // rounding can leave −1e-17 where the exact value is 0
}

/**
 * The largest |p(x, y | z) − p(x | z) p(y | z)| over all values: 0 when X ⫫ Y | Z (z ranges over the
 * configurations of `given` with p(z) > 0; `given` empty compares p(x, y) with p(x) p(y)).
 */
export function independenceGap(joint: JointTable, x: string, y: string, given: string[] = []): number {
  const { xyz, xz, yz, z, zSize, nx, ny } = pairTables(joint, x, y, given, "independenceGap");
  let gap = 0;
  for (let c = 0; c < zSize; c++) {
    if (!(z.probs[c] > 0)) continue;
    for (let a = 0; a < nx; a++) {
      for (let b = 0; b < ny; b++) {
        const pxy = xyz.probs[(a * ny + b) * zSize + c] / z.probs[c];
        const px = xz.probs[a * zSize + c] / z.probs[c];
        const py = yz.probs[b * zSize + c] / z.probs[c];
        gap = Math.max(gap, Math.abs(pxy - px * py));
      }
    }
  }
  return gap;
}

/** The descendants of `name` (children, their children, …) in the network. */
export function descendantsOf(nodes: NetworkNode[], name: string): string[] {
  const out = new Set<string>();
  const stack = [name];
  while (stack.length) {
    const cur = stack.pop()!;
    for (const n of nodes) if (n.parents.includes(cur) && !out.has(n.name)) { out.add(n.name); stack.push(n.name); }
  }
  return nodes.map((n) => n.name).filter((n) => out.has(n));
}

/**
 * The local Markov property, one line per node: the node given its parents against each non-descendant that
 * is not a parent, with I(node; other | parents) — zero for every pair in a joint built by networkJoint.
 */
export function localMarkovChecks(nodes: NetworkNode[], joint: JointTable = networkJoint(nodes)): { node: string; parents: string[]; other: string; mi: number }[] {
  const rows: { node: string; parents: string[]; other: string; mi: number }[] = [];
  for (const node of nodes) {
    const desc = new Set(descendantsOf(nodes, node.name));
    for (const other of nodes) {
      if (other.name === node.name || desc.has(other.name) || node.parents.includes(other.name)) continue;
      rows.push({ node: node.name, parents: node.parents.slice(), other: other.name, mi: conditionalMutualInformation(joint, node.name, other.name, node.parents) });
    }
  }
  return rows;
}

/** How many free numbers the network's tables hold (Σ rows × (states − 1)), against the full joint's Π states − 1. */
export function networkParameterCount(nodes: NetworkNode[]): { factorised: number; fullJoint: number } {
  checkNetwork(nodes);
  return {
    factorised: nodes.reduce((s, n) => s + n.table.length * (n.states - 1), 0),
    fullJoint: nodes.reduce((s, n) => s * n.states, 1) - 1,
  };
}
