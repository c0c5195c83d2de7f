"""Webhooks: endpoints the app registers, and the signed delivery of events from the outbox.

Events are written to the outbox (store/webhook_outbox.py) by whatever makes them happen; every
process runs a dispatcher (delivery.py) that claims due deliveries and POSTs them.
"""
