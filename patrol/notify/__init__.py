"""Notifications: who is told about what happened to a case (:mod:`patrol.notify.notices`, written in the
transaction of the change as in-app notices and outbox rows) and how the outbox is delivered by e-mail and webhooks
with retries (:mod:`patrol.notify.delivery`)."""
