{#- The feature columns of marts.features, in order: the one list that the mart, its docs and tests share. -#}
{% macro feature_columns() -%}
    {%- set columns = [] -%}
    {%- for k in var('return_lags') -%}{%- do columns.append('ret_' ~ k) -%}{%- endfor -%}
    {%- do columns.extend([
        'realized_vol_bar', 'realized_vol',
        'rsi', 'macd_rel', 'macd_signal_rel', 'macd_hist_rel', 'atr_rel', 'bb_pct_b',
        'vwap_dev', 'volume_z', 'taker_buy_ratio',
        'book_imbalance', 'spread_bps', 'consolidated_spread_bps', 'dispersion_bps', 'dex_cex_basis_bps',
        'active_addresses', 'tx_count', 'transfer_count', 'transfer_volume',
        'whale_transfer_count', 'whale_transfer_volume',
        'exchange_inflow', 'exchange_outflow', 'net_exchange_flow', 'net_exchange_flow_z',
    ]) -%}
    {{- return(columns) -}}
{%- endmacro %}
