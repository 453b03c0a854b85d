"""Zero-knowledge proofs of compliant orders (Circom circuit in zk/, Groth16, docs/security.md)."""
