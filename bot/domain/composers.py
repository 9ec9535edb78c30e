"""The registry of composers: message kind -> the rule's module that composes it from the case as it is now.

The outbox (bot/domain/reminders.py) looks a due row's kind up here; the composers build on
bot/domain/outbox.py's types, never on the outbox itself, so the rules and the outbox form no circle.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from bot.domain import action_reminders, agenda, calendar, chasing, circulation, roll_call, undelivered
from bot.domain.outbox import DELIVERY_FAILED, Composer

COMPOSERS: Mapping[str, Composer] = MappingProxyType({
    "reply_chase": chasing.compose_reply_chase,
    "pre_call_check": chasing.compose_pre_call_check,
    "agenda": agenda.compose_agenda,
    "roll_call": roll_call.compose_roll_call,
    "roll_call_close": roll_call.compose_roll_call_close,
    "calendar": calendar.compose_calendar,
    "circulation": circulation.compose_circulation,
    "circulation_chase": circulation.compose_circulation_chase,
    "circulation_escalate": circulation.compose_circulation_escalate,
    "action_digest": action_reminders.compose_digest,
    "overdue_escalation": action_reminders.compose_overdue_escalation,
    DELIVERY_FAILED: undelivered.compose_report,
})
