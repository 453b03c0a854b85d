"""Reusable test doubles that are real servers and real chains: a local exchange (REST + websocket)
speaking Binance and Kraken to the real ccxt clients, and an in-process EVM with the real Uniswap V2
contracts behind a JSON-RPC HTTP endpoint."""
