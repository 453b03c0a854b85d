"""Accounts, strategies and followers: several accounts in one desk, each with its own limits,
books, P&L and journal partition; copy trading; pre-trade compliance (docs/accounts.md)."""
