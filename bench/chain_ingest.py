"""Chain ingest speed per chain: blocks per second through the DEX source against a raw ``eth_getLogs``
loop over the same range, in the same run, on local JSON-RPC nodes (one per chain, own chain ids).

Each chain is an eth-tester EVM with the real Uniswap V2 contracts (``marketsim.local_evm``) behind
the local JSON-RPC server (``marketsim.rpc_server``); every block holds one swap. Ours: :class:`pipelines.sources.dex_rpc.RpcDexSource` reading
the range (logs in chunks, block headers in batches for timestamps and hashes, decoding, the
hash check that catches a reorg mid-read). The peer: the same ``eth_getLogs`` requests (same
filter, same chunks) posted with httpx on a kept-alive connection, nothing decoded, no headers.
"""

from __future__ import annotations

from pathlib import Path

from bench import Measure, best_time

CHUNK = 50
CHAINS = (("ethereum", None), ("bsc", 56))  # None: eth-tester's own chain id


def run(quick: bool = False) -> list[Measure]:
    blocks = 40 if quick else 200
    return [_one_chain(name, chain_id, blocks) for name, chain_id in CHAINS]


def _one_chain(name: str, chain_id: int | None, blocks: int) -> Measure:
    import tempfile

    import httpx
    from web3 import Web3

    from connect.evm import V2_SWAP, V2_SYNC, V3_SWAP
    from kimera.config import parse_config
    from kimera.settings import Settings
    from marketsim.local_evm import Evm, deploy_uniswap_v2
    from marketsim.rpc_server import JsonRpcServer
    from pipelines.sources.dex_rpc import RpcDexSource
    from pipelines.sources.uniswap_v3 import V3_BURN, V3_MINT

    scratch = tempfile.TemporaryDirectory()  # the pool-facts cache goes here, not into the user's home
    settings = Settings(home=Path(scratch.name))
    evm = Evm(chain_id=chain_id)
    uni = deploy_uniswap_v2(evm)
    a, b = uni.tokens["TKA"], uni.tokens["TKB"]
    pair = uni.create_pair(a, b, 10**24, 2 * 10**24)
    trader = evm.accounts[1]
    evm.send(a.functions.transfer(trader, 10**22))
    first = evm.head + 1
    for _ in range(blocks):
        uni.swap_exact_in(a, b, 10**18, trader)  # the approval lands once, then one swap per block
    last = evm.head
    t0, t1 = ("TKA", "TKB") if pair.functions.token0().call() == a.address else ("TKB", "TKA")
    with JsonRpcServer(evm.w3) as rpc:
        config = parse_config({
            "start": "2026-01-01", "assets": [{"symbol": "ETH"}],
            "chain": {"source": "rpc", "name": name, "chain_id": evm.w3.eth.chain_id, "rpc_url": rpc.url,
                      "confirmations": 0, "log_chunk_blocks": CHUNK,
                      "tokens": [{"symbol": n, "address": c.address} for n, c in uni.tokens.items()]},
            "dex": {"source": "rpc", "pools": [{"address": pair.address, "dex": "uniswap_v2", "token0": t0, "token1": t1}]},
        }, "bench config")  # fmt: skip
        rows = 0

        def ours() -> None:
            nonlocal rows
            source = RpcDexSource(config, settings)  # nothing cached between runs but the pool facts file
            rows = source.rows_between("dex_swaps", first, last).num_rows

        ours()  # warm: pool facts read and cached, as after a first ingest
        ours_s = best_time(ours)
        topics = [[V2_SWAP, V2_SYNC, V3_SWAP, V3_MINT, V3_BURN]]
        with httpx.Client() as client:

            def raw() -> None:
                for lo in range(first, last + 1, CHUNK):
                    query = {"address": [Web3.to_checksum_address(pair.address)], "topics": topics,
                             "fromBlock": hex(lo), "toBlock": hex(min(lo + CHUNK - 1, last))}  # fmt: skip
                    body = {"jsonrpc": "2.0", "id": lo, "method": "eth_getLogs", "params": [query]}
                    client.post(rpc.url, json=body).raise_for_status()

            raw()
            raw_s = best_time(raw)
    scratch.cleanup()
    if rows != blocks:
        raise RuntimeError(f"the source read {rows} swaps of the {blocks} in the range")
    value, baseline = blocks / ours_s, blocks / raw_s
    return Measure(f"chain ingest on {name} (chain id {evm.w3.eth.chain_id}), DEX source over {blocks} blocks "
                   "(1 swap each, decoded, headers, reorg check)",
                   value, "blocks/s", "raw eth_getLogs loop, same filter and chunks (httpx)", baseline,
                   value / baseline, "ratio >= 0.5", value / baseline >= 0.5)  # fmt: skip
