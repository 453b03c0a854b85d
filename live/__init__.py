"""The real-time loop: events in exchange time, bars, online features, model, signed signals.

One event-driven loop, two clocks: ``kimera live`` runs it on the wall clock (or an accelerated
one) from websocket or simulator streams; a backtest runs the same code on a simulated clock from
recorded events. Imports the kimera foundation, models, connect and marketsim; never
``execution`` (signals cross the service's signed API) and never the application layer.
"""
