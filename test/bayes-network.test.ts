/**
 * prob/bayes-network: the joint of a discrete Bayesian network as the product of its tables, and the
 * (conditional) independences read off it — checked against hand-computed numbers and against the three
 * three-node shapes (common cause, chain, common effect) whose independences are known.
 */
import { describe, expect, it } from "vitest";
import {
  checkNetwork,
  conditionalMutualInformation,
  configurationAt,
  descendantsOf,
  independenceGap,
  localMarkovChecks,
  marginalOf,
  networkJoint,
  networkParameterCount,
  NetworkNode,
  probabilityOf,
} from "../src/prob/bayes-network";
import { Rng } from "../src/engine/random";

// Notebook 02's example: A → B, A → C.
const commonCause: NetworkNode[] = [
  { name: "A", states: 2, parents: [], table: [[0.7, 0.3]] },
  { name: "B", states: 2, parents: ["A"], table: [[0.8, 0.2], [0.1, 0.9]] },
  { name: "C", states: 2, parents: ["A"], table: [[0.9, 0.1], [0.2, 0.8]] },
];

describe("networkJoint", () => {
  it("is the product of the tables: p(A=1, B=1, C=1) = 0.3 · 0.9 · 0.8, and the joint sums to 1", () => {
    const j = networkJoint(commonCause);
    expect(j.names).toEqual(["A", "B", "C"]);
    expect(j.probs).toHaveLength(8);
    expect(j.probs[7]).toBeCloseTo(0.3 * 0.9 * 0.8, 15);
    expect(j.probs[0]).toBeCloseTo(0.7 * 0.8 * 0.9, 15);
    // index 0b101 = A=1, B=0, C=1
    expect(configurationAt(j.states, 5)).toEqual([1, 0, 1]);
    expect(j.probs[5]).toBeCloseTo(0.3 * 0.1 * 0.8, 15);
    expect(j.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
  });

  it("gives back each table as a conditional of the joint: p(B = 1 | A = 1) = 0.9, p(C = 1 | A = 0) = 0.1", () => {
    const j = networkJoint(commonCause);
    expect(probabilityOf(j, { A: 1, B: 1 }) / probabilityOf(j, { A: 1 })).toBeCloseTo(0.9, 14);
    expect(probabilityOf(j, { A: 0, C: 1 }) / probabilityOf(j, { A: 0 })).toBeCloseTo(0.1, 14);
    expect(probabilityOf(j, { A: 1 })).toBeCloseTo(0.3, 14);
  });

  it("marginals by hand: p(B, C) = [0.51, 0.08, 0.18, 0.23], p(B = 1) = 0.41, p(C = 1) = 0.31", () => {
    const j = networkJoint(commonCause);
    const bc = marginalOf(j, ["B", "C"]);
    [0.51, 0.08, 0.18, 0.23].forEach((p, i) => expect(bc.probs[i]).toBeCloseTo(p, 14));
    const cb = marginalOf(j, ["C", "B"]); // the order asked for is the order returned
    expect(cb.probs[1]).toBeCloseTo(0.18, 14); // C = 0, B = 1
    expect(probabilityOf(j, { B: 1 })).toBeCloseTo(0.41, 14);
    expect(probabilityOf(j, { C: 1 })).toBeCloseTo(0.31, 14);
  });
});

describe("independence", () => {
  it("common cause A → B, A → C: B ⫫ C | A (gap and information 0), B and C dependent (I = 0.1038 nats)", () => {
    const j = networkJoint(commonCause);
    expect(independenceGap(j, "B", "C", ["A"])).toBeLessThan(1e-15);
    expect(conditionalMutualInformation(j, "B", "C", ["A"])).toBeLessThan(1e-14);
    expect(independenceGap(j, "B", "C")).toBeCloseTo(0.23 - 0.41 * 0.31, 14);
    expect(conditionalMutualInformation(j, "B", "C")).toBeCloseTo(0.103806, 6);
    expect(conditionalMutualInformation(j, "C", "B")).toBeCloseTo(conditionalMutualInformation(j, "B", "C"), 14);
  });

  it("chain A → B → C: A ⫫ C | B but not marginally; common effect A → C ← B: A ⫫ B but not given C", () => {
    const chain = networkJoint([
      { name: "A", states: 2, parents: [], table: [[0.6, 0.4]] },
      { name: "B", states: 3, parents: ["A"], table: [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]] },
      { name: "C", states: 2, parents: ["B"], table: [[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]] },
    ]);
    expect(conditionalMutualInformation(chain, "A", "C", ["B"])).toBeLessThan(1e-14);
    expect(conditionalMutualInformation(chain, "A", "C")).toBeGreaterThan(0.01);
    const collider = networkJoint([
      { name: "A", states: 2, parents: [], table: [[0.5, 0.5]] },
      { name: "B", states: 2, parents: [], table: [[0.5, 0.5]] },
      { name: "C", states: 2, parents: ["A", "B"], table: [[0.99, 0.01], [0.1, 0.9], [0.1, 0.9], [0.01, 0.99]] },
    ]);
    expect(conditionalMutualInformation(collider, "A", "B")).toBeLessThan(1e-14);
    expect(independenceGap(collider, "A", "B")).toBeLessThan(1e-15);
    expect(conditionalMutualInformation(collider, "A", "B", ["C"])).toBeGreaterThan(0.05); // explaining away
  });

  it("local Markov property on a random five-node network: each node ⫫ its non-descendants given its parents", () => {
    const rng = new Rng(7);
    const row = (k: number) => { const w = Array.from({ length: k }, () => rng.uniform() + 0.05); const s = w.reduce((a, b) => a + b, 0); return w.map((v) => v / s); };
    const spec: [string, number, string[]][] = [["P", 2, []], ["Q", 3, ["P"]], ["R", 2, ["P"]], ["S", 2, ["Q", "R"]], ["T", 3, ["S"]]];
    const nodes: NetworkNode[] = [];
    for (const [name, states, parents] of spec) {
      const rows = parents.reduce((r, p) => r * nodes.find((n) => n.name === p)!.states, 1);
      nodes.push({ name, states, parents, table: Array.from({ length: rows }, () => row(states)) });
    }
    expect(descendantsOf(nodes, "Q")).toEqual(["S", "T"]);
    expect(descendantsOf(nodes, "T")).toEqual([]);
    const checks = localMarkovChecks(nodes);
    // non-descendants that are not parents: Q: R; R: Q; S: P (S ⫫ P | Q, R); T: P, Q, R; P has none
    expect(checks.map((c) => `${c.node}-${c.other}`).sort()).toEqual(["Q-R", "R-Q", "S-P", "T-P", "T-Q", "T-R"]);
    for (const c of checks) expect(c.mi).toBeLessThan(1e-12);
    const j = networkJoint(nodes);
    // and dependences that no d-separation removes: T and P are dependent marginally
    expect(conditionalMutualInformation(j, "T", "P")).toBeGreaterThan(1e-6);
    expect(j.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 13);
  });
});

describe("parameters and checks", () => {
  it("A → B, A → C needs 5 numbers; a full joint of three binary variables 7", () => {
    expect(networkParameterCount(commonCause)).toEqual({ factorised: 5, fullJoint: 7 });
  });

  it("rejects a parent declared after its child, a table of the wrong shape and a row that is not a distribution", () => {
    expect(() => checkNetwork([commonCause[1], commonCause[0]])).toThrow(/not declared before/);
    expect(() => checkNetwork([commonCause[0], { ...commonCause[1], table: [[0.8, 0.2]] }])).toThrow(/1 rows/);
    expect(() => checkNetwork([commonCause[0], { ...commonCause[1], table: [[0.8, 0.3], [0.1, 0.9]] }])).toThrow(/not a distribution/);
    expect(() => marginalOf(networkJoint(commonCause), ["D"])).toThrow(/no variable D/);
  });
});
