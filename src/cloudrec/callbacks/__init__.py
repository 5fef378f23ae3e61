"""Webhook callbacks (cloudrec extension): events written to an outbox, delivered signed, with retries.

```
DbProgressSink --(same transaction)--> outbox (callback_outbox) --> CallbackDelivery thread --> app URL
```
"""
