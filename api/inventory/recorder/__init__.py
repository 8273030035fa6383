"""The history recorder, the write side: `python -m inventory.recorder` (same image as the API, one instance).

It observes the live state (``observe``), turns two observations into changes (``diff``), writes them and the new
state in one transaction (``store``), and delivers them as signed webhooks (``feed``, ``webhook``), with its own
metrics registry (``metrics``). It builds on ``inventory.history`` (models, database, ``records``).
"""
