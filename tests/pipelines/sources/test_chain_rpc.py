"""The chain source against a real EVM (eth-tester) behind JSON-RPC over HTTP, as against mainnet."""

from __future__ import annotations

import time

import pytest
from web3 import Web3

from connect.evm import TRANSFER
from kimera.config import ConfigError
from kimera.schema import CHAIN_BLOCKS, TOKEN_TRANSFERS, conform
from pipelines.sources import make_sources
from pipelines.sources.chain_rpc import RpcChainSource
from pipelines.sources.retry import SourceUnavailable
from pipelines.sources.rpc import WindowNotConfirmed
from tests.pipelines.sources.conftest import ChainWorld

ONE = 10**18


def _transfers_sent(world: ChainWorld, receipts) -> set[tuple]:
    """Every ERC-20 Transfer the test's transactions emitted, from their receipts (not via the RPC)."""
    found = set()
    for receipt in receipts:
        for entry in receipt.logs:
            if Web3.to_hex(entry.topics[0]) == TRANSFER:
                found.add(
                    (
                        receipt.blockNumber,
                        entry.logIndex,
                        Web3.to_hex(receipt.transactionHash),
                        entry.address.lower(),
                        "0x" + entry.topics[1].hex()[-40:],
                        "0x" + entry.topics[2].hex()[-40:],
                        str(int.from_bytes(entry.data, "big")),
                    )
                )
    return found


def _activity(world: ChainWorld) -> list:
    """Transfers, a WETH deposit and a Router02 swap; returns their receipts."""
    evm, uni = world.evm, world.uni
    a = uni.tokens[world.token0]
    receipts = [
        evm.send(a.functions.transfer(world.trader, 5 * ONE)),
        evm.send(uni.weth.functions.deposit(), sender=world.trader, value=3 * ONE),
        evm.send(uni.weth.functions.transfer(world.exchange_wallet, 2 * ONE), sender=world.trader),
        uni.swap_exact_in(a, uni.tokens[world.token1], ONE, world.trader),
        evm.send(a.functions.transfer(world.exchange_wallet, 1234567), sender=world.trader),
    ]
    return receipts


def test_config_switch_selects_the_rpc_sources(chain_world: ChainWorld) -> None:
    sources = make_sources(chain_world.config())
    assert isinstance(sources.chain, RpcChainSource) and sources.chain.chain() == "testchain"


def test_every_transfer_sent_is_ingested_with_exact_amounts(chain_world: ChainWorld) -> None:
    first = chain_world.evm.head + 1
    receipts = _activity(chain_world)
    last = chain_world.evm.head
    source = make_sources(chain_world.config()).chain
    table = conform(TOKEN_TRANSFERS, source.transfers(*chain_world.window(first, last)))

    stored = {
        (r["block_number"], r["log_index"], r["tx_hash"], r["token_address"], r["from_address"],
         r["to_address"], r["amount_raw"])
        for r in table.to_pylist()
    }  # fmt: skip
    assert stored == _transfers_sent(chain_world, receipts)
    labels = {r["token"] for r in table.to_pylist()}
    assert labels == {"TKA", "TKB", "WETH"}
    to_exchange = [r for r in table.to_pylist() if r["to_address"] == chain_world.exchange_wallet.lower()]
    assert sorted((r["token"], r["amount"]) for r in to_exchange) == sorted(
        [("WETH", 2.0), (chain_world.token0, 1234567 / ONE)]
    )
    # every row's block hash is the chain's
    for r in table.to_pylist():
        assert r["block_hash"] == Web3.to_hex(chain_world.evm.w3.eth.get_block(r["block_number"])["hash"])


def test_blocks_carry_tx_count_active_addresses_and_gas(chain_world: ChainWorld) -> None:
    evm = chain_world.evm
    evm.tester.disable_auto_mine_transactions()
    senders = evm.accounts[2:5]
    tx_hashes = [evm.w3.eth.send_transaction({"from": s, "to": evm.accounts[6], "value": 1}) for s in senders]
    evm.mine(1)
    busy = evm.head
    evm.tester.enable_auto_mine_transactions()
    evm.mine(2)  # two empty blocks
    source = make_sources(chain_world.config()).chain
    rows = conform(CHAIN_BLOCKS, source.blocks(*chain_world.window(busy, busy + 2))).to_pylist()

    assert [r["block_number"] for r in rows] == [busy, busy + 1, busy + 2]
    assert (rows[0]["tx_count"], rows[0]["active_addresses"]) == (3, 4)  # 3 senders, 1 recipient
    assert rows[0]["gas_used"] == sum(evm.w3.eth.get_transaction_receipt(h).gasUsed for h in tx_hashes)
    assert [(r["tx_count"], r["active_addresses"], r["gas_used"]) for r in rows[1:]] == [(0, 0, 0), (0, 0, 0)]
    assert rows[1]["parent_hash"] == rows[0]["block_hash"]
    assert rows[0]["base_fee_gwei"] > 0


def test_a_window_maps_to_blocks_by_timestamp_and_waits_for_confirmations(chain_world: ChainWorld) -> None:
    evm = chain_world.evm
    evm.mine(10)
    head = evm.head
    source = make_sources(chain_world.config(confirmations=3)).chain
    assert source.window_blocks(*chain_world.window(head - 8, head - 5)) == range(head - 8, head - 4)
    with pytest.raises(WindowNotConfirmed) as err:
        source.window_blocks(*chain_world.window(head - 4, head - 1))
    assert "not 3 blocks deep yet" in str(err.value) and err.value.retry_after_s > 0
    evm.mine(3)
    assert source.window_blocks(*chain_world.window(head - 4, head - 1)) == range(head - 4, head)


def test_get_logs_ranges_shrink_when_the_node_refuses_them(chain_world: ChainWorld) -> None:
    first = chain_world.evm.head + 1
    receipts = _activity(chain_world)
    chain_world.evm.mine(20)
    last = chain_world.evm.head
    chain_world.rpc.faults.max_log_range = 4
    chain_world.rpc.faults.max_logs = 2
    source = make_sources(chain_world.config(chain={"log_chunk_blocks": 1000})).chain
    table = source.transfers(*chain_world.window(first, last))
    assert len(table) == len(_transfers_sent(chain_world, receipts))
    ranges = [
        (int(q[0]["fromBlock"], 16), int(q[0]["toBlock"], 16)) for q in chain_world.rpc.methods("eth_getLogs")
    ]
    assert ranges[0] == (first, last)  # asked for everything first, then smaller ranges
    assert min(hi - lo + 1 for lo, hi in ranges) <= 2
    covered = sorted({n for lo, hi in ranges[1:] for n in range(lo, hi + 1)})
    assert covered == list(range(first, last + 1))


def test_a_node_that_is_down_gets_bounded_retries_and_the_url_stays_secret(chain_world: ChainWorld) -> None:
    url = chain_world.rpc.url + "v3/SECRETKEY123"
    chain_world.rpc.faults.down = True
    source = make_sources(
        chain_world.config(url=url, chain={"retry": {"attempts": 3, "backoff_s": 0.05}})
    ).chain
    with pytest.raises(SourceUnavailable) as err:
        source.blocks(*chain_world.window(1, 2))
    message = str(err.value)
    assert message.startswith("testchain rpc eth_blockNumber: unreachable after 3 attempt(s)")
    assert "503" in message and "SECRETKEY123" not in message
    assert len(chain_world.rpc.calls) == 0  # refused at the HTTP layer, three times


def test_429_retry_after_is_honoured_by_the_rpc_client(chain_world: ChainWorld) -> None:
    chain_world.evm.mine(3)
    chain_world.rpc.faults.fail(times=1, status=429, retry_after="1")
    source = make_sources(chain_world.config()).chain
    head = chain_world.evm.head
    asked = time.monotonic()
    assert len(source.blocks(*chain_world.window(head - 2, head))) == 3
    first_answered = chain_world.rpc.calls[0][0]
    assert first_answered - asked >= 1.0  # the backoff alone would have been 0.05 s


def test_rpc_url_from_a_secret(chain_world: ChainWorld, monkeypatch, kimera_home) -> None:
    monkeypatch.setenv("KIMERA_SECRET_MAINNET_RPC", chain_world.rpc.url)
    config = chain_world.config(chain={"rpc_url": None, "rpc_url_secret": "mainnet_rpc"})
    chain_world.evm.mine(2)
    assert len(make_sources(config).chain.blocks(*chain_world.window(1, 2))) == 2
    missing = chain_world.config(chain={"rpc_url": None, "rpc_url_secret": "nope"})
    with pytest.raises(ConfigError, match="KIMERA_SECRET_NOPE"):
        _ = make_sources(missing).chain


def test_token_decimals_that_disagree_with_the_contract_fail_clearly(chain_world: ChainWorld) -> None:
    config = chain_world.config()
    data = config.model_dump()
    data["chain"]["tokens"][0]["decimals"] = 6
    from kimera.config import parse_config

    source = make_sources(parse_config(data)).chain
    chain_world.evm.mine(2)
    with pytest.raises(ConfigError) as err:
        source.transfers(*chain_world.window(1, 2))
    assert "TKA has decimals = 6 in the config but the contract" in str(err.value) and "says 18" in str(
        err.value
    )
