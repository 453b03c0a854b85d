#!/usr/bin/env bash
# Local trusted setup for the compliant-order circuit (docs/security.md: how a production ceremony differs).
# Writes zk/build/: the circuit's wasm, its proving key (.zkey) and verification_key.json. Run once, by
# `make setup` (the Makefile's zk/build/.done target); nothing here reaches the network.
set -euo pipefail
cd "$(dirname "$0")"
BIN=node_modules/.bin
rm -rf build.partial && mkdir -p build.partial
cp circuits/compliant_order.circom build.partial/
cp -r node_modules/circomlib/circuits build.partial/circomlib  # circom2 sees only its working directory
cd build.partial
../$BIN/circom2 compliant_order.circom --r1cs --wasm > compile.log
S="node ../node_modules/snarkjs/build/cli.cjs"
# Phase 1 (powers of tau) and phase 2 (this circuit), one local contributor each, with fresh entropy.
$S powersoftau new bn128 13 pot_0.ptau > /dev/null
$S powersoftau contribute pot_0.ptau pot_1.ptau --name="kimera local" -e="$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')" > /dev/null
$S powersoftau prepare phase2 pot_1.ptau pot_final.ptau > /dev/null
$S groth16 setup compliant_order.r1cs pot_final.ptau order_0.zkey > /dev/null
$S zkey contribute order_0.zkey compliant_order.zkey --name="kimera local" -e="$(head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n')" > /dev/null
$S zkey export verificationkey compliant_order.zkey verification_key.json > /dev/null
# keep what proving and verifying need; the toxic intermediate files go
mv compliant_order_js/compliant_order.wasm .
rm -rf pot_0.ptau pot_1.ptau pot_final.ptau order_0.zkey compliant_order_js circomlib
cd .. && rm -rf build && mv build.partial build && touch build/.done
echo "zk/build: $(ls build | tr '\n' ' ')"
