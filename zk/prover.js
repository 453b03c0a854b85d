// Kimera's zero-knowledge helper: reads one JSON request on stdin, writes one JSON answer on stdout.
//   {"op": "tree",  "depth": 16, "leaves": [[orderKey, quantity, price, salt], ...]}
//        -> {"root", "commitments"}
//   {"op": "prove", "depth": 16, "leaves": [...], "index": i, "public": {notionalLimit, referencePrice, bandBps},
//    "wasm": path, "zkey": path}  -> {"proof", "publicSignals"}  (an order that breaks a rule has no witness)
//   {"op": "verify", "vk": {...}, "proof": {...}, "publicSignals": [...]}  -> {"ok": bool}
// Numbers travel as decimal strings (field elements do not fit a double).
"use strict";
const { buildPoseidon } = require("circomlibjs");
const snarkjs = require("snarkjs");

async function merkle(poseidon, depth, leaves) {
  const F = poseidon.F;
  const hash = (items) => F.toObject(poseidon(items));
  const zeros = [0n];
  for (let d = 0; d < depth; d++) zeros.push(hash([zeros[d], zeros[d]]));
  let level = leaves.map((leaf) => hash(leaf.map(BigInt)));
  if (level.length > 2 ** depth) throw new Error(`more than 2^${depth} orders in one tree`);
  const layers = [level];
  for (let d = 0; d < depth; d++) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(hash([level[i], i + 1 < level.length ? level[i + 1] : zeros[d]]));
    if (next.length === 0) next.push(zeros[d + 1]);
    layers.push(next);
    level = next;
  }
  const path = (index) => {
    const elements = [], indices = [];
    for (let d = 0; d < depth; d++) {
      const sibling = layers[d][index ^ 1];
      elements.push((sibling === undefined ? zeros[d] : sibling).toString());
      indices.push(String(index & 1));
      index >>= 1;
    }
    return { elements, indices };
  };
  return { root: level[0], commitments: layers[0], path };
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const request = JSON.parse(Buffer.concat(chunks).toString());
  let answer;
  if (request.op === "verify") {
    answer = { ok: await snarkjs.groth16.verify(request.vk, request.publicSignals, request.proof) };
  } else {
    const poseidon = await buildPoseidon();
    const tree = await merkle(poseidon, request.depth, request.leaves);
    if (request.op === "tree") {
      answer = { root: tree.root.toString(), commitments: tree.commitments.map(String) };
    } else if (request.op === "prove") {
      const leaf = request.leaves[request.index];
      const path = tree.path(request.index);
      const input = {
        root: tree.root.toString(), orderKey: leaf[0], notionalLimit: request.public.notionalLimit,
        referencePrice: request.public.referencePrice, bandBps: request.public.bandBps,
        quantity: leaf[1], price: leaf[2], salt: leaf[3], pathElements: path.elements, pathIndices: path.indices,
      };
      if (request.root !== undefined) input.root = request.root;  // prove against a published root
      const { proof, publicSignals } = await snarkjs.groth16.fullProve(input, request.wasm, request.zkey);
      answer = { proof, publicSignals };
    } else {
      throw new Error(`unknown op ${request.op}`);
    }
  }
  process.stdout.write(JSON.stringify(answer));
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(String(err && err.message ? err.message : err).split("\n")[0] + "\n");
  process.exit(1);
});
