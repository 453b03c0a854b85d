"""The simulator plants its signal in the net exchange inflow of a bar: the features carry it exactly.

``marketsim`` reports, for evaluation only, the net inflow of each asset's token into labelled
exchange wallets per bar, computed from the same transfers; net_exchange_flow must equal it, and the
next bar's return in the labels must move against it (inflow is bearish in the simulator).
"""

from __future__ import annotations

import numpy as np

from connect.sim import simulator_from_config


def test_net_exchange_flow_equals_the_planted_net_inflow(warehouse, sim_config, sim_window):
    planted = simulator_from_config(sim_config).planted_signal(*sim_window)
    warehouse.register("planted", planted)
    rows = warehouse.execute(
        "select p.net_inflow, f.net_exchange_flow, l.fwd_ret_1 "
        "from planted p join marts.features f using (asset, bar_time) join marts.labels l using (asset, bar_time)"
    ).df()
    assert len(rows) == planted.num_rows  # every planted bar has a features row
    np.testing.assert_allclose(rows.net_exchange_flow, rows.net_inflow, rtol=1e-9, atol=1e-9)
    assert (rows.net_inflow != 0).mean() > 0.9  # not a vacuous comparison of zeros
    known = rows.dropna()
    assert np.corrcoef(known.net_exchange_flow, known.fwd_ret_1)[0, 1] < 0
