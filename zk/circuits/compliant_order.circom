pragma circom 2.1.6;

// A proof that one order was compliant, revealing neither its size nor its price:
//   * its commitment Poseidon(orderKey, quantity, price, salt) is a leaf of the published daily root;
//   * quantity x price <= the account's notional limit;
//   * price lies within bandBps basis points of the public reference price.
// Depth 12: 4,096 orders a day (deeper trees need a larger powers-of-tau, zk/setup.sh POWER).
// Quantities and prices are integers in units of 1e-8 (so a notional is in 1e-16 quote units).
// circom2 only sees its working directory: the build copies circomlib/circuits next to this file.

include "circomlib/poseidon.circom";
include "circomlib/comparators.circom";
include "circomlib/bitify.circom";

template MerkleInclusion(depth) {
    signal input leaf;
    signal input pathElements[depth];
    signal input pathIndices[depth];  // 0: the node is the left child, 1: the right
    signal output root;

    component hashers[depth];
    signal levels[depth + 1];
    signal left[depth];
    signal right[depth];
    levels[0] <== leaf;
    for (var i = 0; i < depth; i++) {
        pathIndices[i] * (1 - pathIndices[i]) === 0;
        left[i] <== levels[i] + pathIndices[i] * (pathElements[i] - levels[i]);
        right[i] <== pathElements[i] + pathIndices[i] * (levels[i] - pathElements[i]);
        hashers[i] = Poseidon(2);
        hashers[i].inputs[0] <== left[i];
        hashers[i].inputs[1] <== right[i];
        levels[i + 1] <== hashers[i].out;
    }
    root <== levels[depth];
}

template CompliantOrder(depth) {
    // public
    signal input root;
    signal input orderKey;
    signal input notionalLimit;
    signal input referencePrice;
    signal input bandBps;
    // private
    signal input quantity;
    signal input price;
    signal input salt;
    signal input pathElements[depth];
    signal input pathIndices[depth];

    // range checks: without them a value could wrap around the field and pass a comparison
    component quantityBits = Num2Bits(64);
    quantityBits.in <== quantity;
    component priceBits = Num2Bits(64);
    priceBits.in <== price;
    component referenceBits = Num2Bits(64);
    referenceBits.in <== referencePrice;
    component limitBits = Num2Bits(128);
    limitBits.in <== notionalLimit;
    component bandBits = Num2Bits(14);
    bandBits.in <== bandBps;
    component bandAtMostAll = LessEqThan(14);
    bandAtMostAll.in[0] <== bandBps;
    bandAtMostAll.in[1] <== 10000;
    bandAtMostAll.out === 1;

    component commitment = Poseidon(4);
    commitment.inputs[0] <== orderKey;
    commitment.inputs[1] <== quantity;
    commitment.inputs[2] <== price;
    commitment.inputs[3] <== salt;
    component tree = MerkleInclusion(depth);
    tree.leaf <== commitment.out;
    for (var i = 0; i < depth; i++) {
        tree.pathElements[i] <== pathElements[i];
        tree.pathIndices[i] <== pathIndices[i];
    }
    tree.root === root;

    signal notional <== quantity * price;  // < 2^128
    component underLimit = LessEqThan(128);
    underLimit.in[0] <== notional;
    underLimit.in[1] <== notionalLimit;
    underLimit.out === 1;

    // |price - ref| <= ref * band / 10000  <=>  ref * (10000 - band) <= 10000 * price <= ref * (10000 + band)
    signal scaledPrice <== 10000 * price;
    signal upper <== referencePrice * (10000 + bandBps);
    signal lower <== referencePrice * (10000 - bandBps);
    component belowUpper = LessEqThan(96);
    belowUpper.in[0] <== scaledPrice;
    belowUpper.in[1] <== upper;
    belowUpper.out === 1;
    component aboveLower = LessEqThan(96);
    aboveLower.in[0] <== lower;
    aboveLower.in[1] <== scaledPrice;
    aboveLower.out === 1;
}

component main {public [root, orderKey, notionalLimit, referencePrice, bandBps]} = CompliantOrder(12);
