#!/usr/bin/env bash
# Local trusted setup for the compliant-order circuit (docs/security.md: how a production ceremony differs).
# Writes zk/build/: the circuit's wasm, its proving key (.zkey) and verification_key.json. Run once, by
# `make setup` (the Makefile's zk/build/.done target); nothing here reaches the network.
set -euo pipefail
cd "$(dirname "$0")"
POWER=13  # 2^13 >= 2 x the circuit's ~3,900 constraints (compiled with --O2)
rm -rf build.partial && mkdir -p build.partial
cp circuits/compliant_order.circom build.partial/
cp -r node_modules/circomlib/circuits build.partial/circomlib  # circom2 sees only its working directory
cd build.partial
run() { "$@" >> setup.log 2>&1 || { echo "zk/setup.sh failed: $*" >&2; tail -5 setup.log >&2; exit 1; }; }
entropy() { head -c 64 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
S="node ../node_modules/snarkjs/build/cli.cjs"
run ../node_modules/.bin/circom2 compliant_order.circom --r1cs --wasm --O2
# Phase 1 (powers of tau) and phase 2 (this circuit), one local contributor each, with fresh entropy.
run $S powersoftau new bn128 $POWER pot_0.ptau
run $S powersoftau contribute pot_0.ptau pot_1.ptau --name="kimera local" -e="$(entropy)"
run $S powersoftau prepare phase2 pot_1.ptau pot_final.ptau
run $S groth16 setup compliant_order.r1cs pot_final.ptau order_0.zkey
run $S zkey contribute order_0.zkey compliant_order.zkey --name="kimera local" -e="$(entropy)"
run $S zkey export verificationkey compliant_order.zkey verification_key.json
# keep what proving and verifying need; the toxic intermediate files go
mv compliant_order_js/compliant_order.wasm .
rm -rf pot_0.ptau pot_1.ptau pot_final.ptau order_0.zkey compliant_order_js circomlib
cd .. && rm -rf build && mv build.partial build && touch build/.done
echo "zk/build: $(ls build | tr '\n' ' ')"
