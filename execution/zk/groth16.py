"""Groth16 verification on BN254 in Python (py-ecc), for snarkjs proofs and verification keys.

Checks ``e(A, B) = e(alpha, beta) * e(vk_x, gamma) * e(C, delta)`` with
``vk_x = IC[0] + sum(input_i * IC[i+1])``, as one product of Miller loops and a single final
exponentiation. Independent of snarkjs: a second implementation of the same check.
"""

from __future__ import annotations

from typing import Any

from py_ecc.optimized_bn128 import FQ, FQ2, FQ12, add, curve_order, is_on_curve, multiply, neg
from py_ecc.optimized_bn128.optimized_pairing import (
    b,
    b2,
    cast_point_to_fq12,
    final_exponentiate,
    miller_loop,
    twist,
)


class BadProof(ValueError):
    """A proof or key that is not well formed (as opposed to one that does not verify)."""


def _g1(point: list[str]) -> tuple[FQ, FQ, FQ]:
    try:
        p = (FQ(int(point[0])), FQ(int(point[1])), FQ(int(point[2])))
    except (ValueError, TypeError, IndexError):
        raise BadProof("a G1 point is not three decimal coordinates") from None
    if not is_on_curve(p, b):
        raise BadProof("a G1 point is not on the curve")
    return p


def _g2(point: list[list[str]]) -> tuple[FQ2, FQ2, FQ2]:
    try:
        p = tuple(FQ2([int(c[0]), int(c[1])]) for c in point[:3])
    except (ValueError, TypeError, IndexError):
        raise BadProof("a G2 point is not three pairs of decimal coordinates") from None
    if not is_on_curve(p, b2):
        raise BadProof("a G2 point is not on the curve")
    return p  # type: ignore[return-value]


def _ml(q2, p1) -> FQ12:
    return miller_loop(twist(q2), cast_point_to_fq12(p1), final_exponentiate=False)


def verify(vk: dict[str, Any], public_signals: list[str], proof: dict[str, Any]) -> bool:
    """Whether ``proof`` (snarkjs JSON) proves ``public_signals`` under verification key ``vk``."""
    if vk.get("protocol") != "groth16" or vk.get("curve") != "bn128":
        raise BadProof("only groth16 on bn128 verification keys are supported")
    ic = [_g1(p) for p in vk["IC"]]
    if len(public_signals) != len(ic) - 1:
        raise BadProof(f"{len(public_signals)} public signals for a key that takes {len(ic) - 1}")
    inputs = [int(s) for s in public_signals]
    if any(not 0 <= x < curve_order for x in inputs):
        return False  # a signal outside the scalar field would alias another
    vk_x = ic[0]
    for x, point in zip(inputs, ic[1:], strict=True):
        vk_x = add(vk_x, multiply(point, x))
    a, b_, c = _g1(proof["pi_a"]), _g2(proof["pi_b"]), _g1(proof["pi_c"])
    product = (
        _ml(b_, neg(a))
        * _ml(_g2(vk["vk_beta_2"]), _g1(vk["vk_alpha_1"]))
        * _ml(_g2(vk["vk_gamma_2"]), vk_x)
        * _ml(_g2(vk["vk_delta_2"]), c)
    )
    return final_exponentiate(product) == FQ12.one()
