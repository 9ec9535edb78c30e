"""Block Kit to HTML for the sandbox page: what Slack would show, escaped, never silently dropped.

Rendering happens in Python (markupsafe) rather than in the browser so it can be unit-tested,
and so every piece of text the bot sent is escaped exactly once. A block or element type this
module does not know is shown as a visible placeholder naming the type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

# The emoji the bot's templates use, drawn with symbols every system font has (a colour dot for the
# red/amber/green circles), so the page and its screenshots need no emoji font. Any other `:name:`
# stays as typed, as Slack shows an unknown one.
EMOJI = {
    "white_check_mark": ("✔", "ok"), "x": ("✘", "bad"), "warning": ("⚠", "warn"), "no_entry": ("⊘", "bad"),
    "red_circle": ("●", "bad"), "large_green_circle": ("●", "ok"), "large_orange_circle": ("●", "warn"),
    "large_yellow_circle": ("●", "warn"), "hourglass_flowing_sand": ("⌛", "wait"), "clipboard": ("▤", "info"),
    "rotating_light": ("⚠", "bad"), "calendar": ("▦", "info"), "scales": ("⚖", "info"), "bell": ("♪", "info"),
    "arrows_counterclockwise": ("↻", "info"), "memo": ("✎", "info"), "lock": ("⚿", "info"),
}


def _emoji(match: re.Match[str]) -> str:
    found = EMOJI.get(match.group(1))
    if found is None:
        return match.group(0)
    return f'<span class="emoji {found[1]}" title=":{match.group(1)}:">{found[0]}</span>'


_ENTITY = re.compile(r"<([^<>\n]+)>")
_EMOJI = re.compile(r":([a-z0-9_+-]+):")
# Slack's mrkdwn: markers must hug the text and not sit inside a word.
_STYLES = [
    (re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])"), "b"),
    (re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)(?<!\s)_(?![\w_])"), "i"),
    (re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)(?<!\s)~(?![\w~])"), "s"),
]
_CODE = re.compile(r"`([^`\n]+)`")
_SAFE_URL = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: their time zone (date tokens), the directory's names, and "now" for Today/Tomorrow."""

    zone: ZoneInfo
    now: datetime
    names: Mapping[str, str] = field(default_factory=dict)  # user id -> display name
    channels: Mapping[str, str] = field(default_factory=dict)  # channel id -> name
    users: list[tuple[str, str]] = field(default_factory=list)  # (id, name) for user pickers


# --------------------------------------------------------------------------- dates


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _time(local: datetime, secs: bool = False) -> str:
    hour = local.hour % 12 or 12
    tail = f":{local.second:02d}" if secs else ""
    return f"{hour}:{local.minute:02d}{tail} {'AM' if local.hour < 12 else 'PM'}"


def _relative_day(local: datetime, viewer: Viewer) -> str | None:
    days = (local.date() - viewer.now.astimezone(viewer.zone).date()).days
    return {0: "Today", 1: "Tomorrow", -1: "Yesterday"}.get(days)


def format_date(epoch: int, fmt: str, viewer: Viewer) -> str:
    """Slack's `<!date^…^fmt|…>` tokens, in the viewer's own time zone, as Slack documents them."""
    local = datetime.fromtimestamp(epoch, viewer.zone)
    month, day = local.strftime("%B"), _ordinal(local.day)
    long = f"{local.strftime('%A')}, {month} {day}, {local.year}"
    plain = f"{month} {day}, {local.year}"
    short = f"{local.strftime('%b')} {local.day}, {local.year}"
    relative = _relative_day(local, viewer)
    delta = viewer.now - local
    ago_minutes = int(abs(delta) / timedelta(minutes=1))
    ago = (f"{ago_minutes} minutes ago" if delta >= timedelta(0) else f"in {ago_minutes} minutes") \
        if ago_minutes < 120 else (f"{ago_minutes // 60} hours ago" if delta >= timedelta(0)
                                   else f"in {ago_minutes // 60} hours")
    values = {
        "date_num": local.strftime("%Y-%m-%d"), "date": plain, "date_short": short, "date_long": long,
        "date_pretty": relative or plain, "date_short_pretty": relative or short, "date_long_pretty": relative or long,
        "time": _time(local), "time_secs": _time(local, secs=True), "ago": ago,
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), fmt)


# --------------------------------------------------------------------------- mrkdwn


def _unescape_slack(text: str) -> str:
    # Slack text arrives with &amp; &lt; &gt; escaped; undo exactly those before escaping for HTML.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _entity(inner: str, viewer: Viewer) -> Markup:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        uid = target[1:]
        return Markup('<span class="mention">@{}</span>').format(viewer.names.get(uid) or label or uid)
    if target.startswith("#"):
        cid = target[1:]
        return Markup('<span class="mention">#{}</span>').format(viewer.channels.get(cid) or label or cid)
    if target.startswith("!date^"):
        parts = target.split("^")
        try:
            return Markup('<time class="date">{}</time>').format(format_date(int(parts[1]), parts[2], viewer))
        except (IndexError, ValueError):
            return escape(_unescape_slack(label))
    if target.startswith("!"):
        return Markup('<span class="mention">@{}</span>').format(label or target[1:].split("^")[0])
    url = _unescape_slack(target)
    if _SAFE_URL.match(url):
        return Markup('<a href="{}" target="_blank" rel="noopener">{}</a>').format(url, _unescape_slack(label or url))
    return escape(_unescape_slack(inner))


def mrkdwn(text: str, viewer: Viewer) -> Markup:
    """Slack mrkdwn to HTML: entities (mentions, links, dates) first, then bold/italic/strike/code."""
    tokens: list[Markup] = []

    def hold(markup: Markup) -> str:
        tokens.append(markup)
        return f"\x00{len(tokens) - 1}\x00"

    held = _ENTITY.sub(lambda m: hold(_entity(m.group(1), viewer)), text)
    held = _CODE.sub(lambda m: hold(Markup("<code>{}</code>").format(_unescape_slack(m.group(1)))), held)
    out = str(escape(_unescape_slack(held)))
    for pattern, tag in _STYLES:
        out = pattern.sub(lambda m, tag=tag: f"<{tag}>{m.group(1)}</{tag}>", out)
    out = _EMOJI.sub(_emoji, out)
    out = re.sub(r"\x00(\d+)\x00", lambda m: str(tokens[int(m.group(1))]), out)
    return Markup(out.replace("\n", "<br>"))


def text_object(obj: Any, viewer: Viewer) -> Markup:
    if not isinstance(obj, dict):
        return escape(str(obj or ""))
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text", "")), viewer)
    plain = escape(_unescape_slack(str(obj.get("text", ""))))
    return Markup(_EMOJI.sub(_emoji, plain)) if obj.get("emoji", True) else plain


def unknown(kind: str, what: str = "block") -> Markup:
    return Markup('<div class="unknown">Unsupported {}: <code>{}</code></div>').format(what, kind or "(no type)")


# --------------------------------------------------------------------------- rich text


def _rich_inline(el: dict[str, Any], viewer: Viewer) -> Markup:
    kind = el.get("type")
    if kind == "text":
        out: Markup = escape(str(el.get("text", ""))).replace("\n", Markup("<br>"))
        style = el.get("style") or {}
        for key, tag in (("code", "code"), ("bold", "b"), ("italic", "i"), ("strike", "s")):
            if style.get(key):
                out = Markup(f"<{tag}>{{}}</{tag}>").format(out)
        return out
    if kind == "link":
        url = str(el.get("url", ""))
        label = el.get("text") or url
        if _SAFE_URL.match(url):
            return Markup('<a href="{}" target="_blank" rel="noopener">{}</a>').format(url, label)
        return escape(label)
    if kind == "user":
        return _entity("@" + str(el.get("user_id", "")), viewer)
    if kind == "channel":
        return _entity("#" + str(el.get("channel_id", "")), viewer)
    if kind == "emoji":
        return Markup(_EMOJI.sub(_emoji, str(escape(f":{el.get('name')}:"))))
    if kind == "date":
        return Markup('<time class="date">{}</time>').format(
            format_date(int(el.get("timestamp", 0)), str(el.get("format", "{date}")), viewer))
    if kind == "broadcast":
        return Markup('<span class="mention">@{}</span>').format(el.get("range", "here"))
    return unknown(str(kind), "rich text element")


def _rich_part(part: dict[str, Any], viewer: Viewer) -> Markup:
    kind = part.get("type")
    inner = Markup("").join(_rich_inline(e, viewer) for e in part.get("elements", []) if isinstance(e, dict))
    if kind == "rich_text_section":
        return Markup('<div class="rt-section">{}</div>').format(inner)
    if kind == "rich_text_quote":
        return Markup("<blockquote>{}</blockquote>").format(inner)
    if kind == "rich_text_preformatted":
        return Markup("<pre>{}</pre>").format(inner)
    if kind == "rich_text_list":
        tag = "ol" if part.get("style") == "ordered" else "ul"
        items = Markup("").join(Markup("<li>{}</li>").format(_rich_part(e, viewer)) for e in part.get("elements", []))
        return Markup(f"<{tag}>{{}}</{tag}>").format(items)
    return unknown(str(kind), "rich text part")


# --------------------------------------------------------------------------- elements


def _action_data(el: dict[str, Any], block_id: str, **extra: Any) -> str:
    return json.dumps({"action_id": el.get("action_id", ""), "block_id": block_id, "type": el.get("type"), **extra})


def _option_label(opt: dict[str, Any], viewer: Viewer) -> Markup:
    return text_object(opt.get("text"), viewer)


def _select_options(el: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(el.get("options") or [])
    for group in el.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _button(el: dict[str, Any], block_id: str, viewer: Viewer) -> Markup:
    style = el.get("style", "")
    if el.get("url"):
        return Markup('<a class="btn {}" href="{}" target="_blank" rel="noopener">{}</a>').format(
            style, el["url"] if _SAFE_URL.match(str(el["url"])) else "#", text_object(el.get("text"), viewer))
    data = _action_data(el, block_id, value=el.get("value", ""))
    return Markup('<button type="submit" class="btn {}" name="act" value="{}">{}</button>'
                  ).format(style, data, text_object(el.get("text"), viewer))


def _action_select(el: dict[str, Any], block_id: str, viewer: Viewer) -> Markup:
    """A select inside an actions block or accessory: choosing sends the action at once, as Slack does."""
    kind = el.get("type")
    if kind in ("users_select", "multi_users_select"):
        choices = [(uid, escape(name)) for uid, name in viewer.users]
        key = "selected_user"
    else:
        choices = [(str(o.get("value")), _option_label(o, viewer)) for o in _select_options(el)]
        key = "selected_option"
    placeholder = text_object(el.get("placeholder") or {"type": "plain_text", "text": "Choose…"}, viewer)
    options = Markup("").join(
        Markup('<option value="{}">{}</option>').format(
            _action_data(el, block_id, **{key: value if key == "selected_user" else {"value": value}}), label)
        for value, label in choices)
    return Markup('<select class="action-select" name="act" data-autosubmit="1">'
                  '<option value="" selected disabled>{}</option>{}</select>').format(placeholder, options)


def interactive(el: dict[str, Any], block_id: str, viewer: Viewer) -> Markup:
    kind = el.get("type")
    if kind == "button":
        return _button(el, block_id, viewer)
    if kind in ("static_select", "users_select", "overflow", "external_select", "conversations_select",
                "channels_select", "multi_static_select", "multi_users_select"):
        if kind == "overflow":
            el = {**el, "placeholder": {"type": "plain_text", "text": "⋯"}}
        return _action_select(el, block_id, viewer)
    if kind == "image":
        return Markup('<span class="image-ph" title="{}">[image: {}]</span>').format(
            el.get("image_url", ""), el.get("alt_text", ""))
    return unknown(str(kind), "element")


# --------------------------------------------------------------------------- input elements (modals)


def _field_name(block_id: str, el: dict[str, Any]) -> str:
    return f"v|{block_id}|{el.get('action_id', '')}|{el.get('type', '')}"


def input_element(el: dict[str, Any], block_id: str, viewer: Viewer) -> Markup:
    """A form control whose name carries block id, action id and type, so the page can rebuild view.state."""
    kind = str(el.get("type", ""))
    name = _field_name(block_id, el)
    marker = Markup('<input type="hidden" name="present" value="{}">').format(name)
    fid = f"{block_id}--{el.get('action_id', '')}"
    if kind == "plain_text_input":
        value = el.get("initial_value", "")
        if el.get("multiline"):
            control = Markup('<textarea id="{}" name="{}" rows="3">{}</textarea>').format(fid, name, value)
        else:
            control = Markup('<input id="{}" type="text" name="{}" value="{}">').format(fid, name, value)
    elif kind in ("static_select", "multi_static_select"):
        initial = {str(o.get("value")) for o in ([el["initial_option"]] if el.get("initial_option") else [])
                   + list(el.get("initial_options") or [])}
        multiple = " multiple" if kind.startswith("multi") else ""
        options = Markup("").join(
            Markup('<option value="{}"{}>{}</option>').format(
                o.get("value"), Markup(" selected") if str(o.get("value")) in initial else "", _option_label(o, viewer))
            for o in _select_options(el))
        blank = "" if multiple else Markup('<option value="">Choose…</option>')
        control = Markup('<select id="{}" name="{}"' + multiple + ">{}{}</select>").format(fid, name, blank, options)
    elif kind in ("users_select", "multi_users_select"):
        initial = set(el.get("initial_users") or []) | ({el["initial_user"]} if el.get("initial_user") else set())
        multiple = " multiple" if kind.startswith("multi") else ""
        options = Markup("").join(
            Markup('<option value="{}"{}>{}</option>').format(uid, Markup(" selected") if uid in initial else "", nm)
            for uid, nm in viewer.users)
        blank = "" if multiple else Markup('<option value="">Choose a person…</option>')
        control = Markup('<select id="{}" name="{}"' + multiple + ">{}{}</select>").format(fid, name, blank, options)
    elif kind == "datepicker":
        control = Markup('<input id="{}" type="date" name="{}" value="{}">').format(fid, name,
                                                                                   el.get("initial_date", ""))
    elif kind == "timepicker":
        control = Markup('<input id="{}" type="time" name="{}" value="{}">').format(fid, name,
                                                                                   el.get("initial_time", ""))
    elif kind in ("checkboxes", "radio_buttons"):
        initial = {str(o.get("value")) for o in ([el["initial_option"]] if el.get("initial_option") else [])
                   + list(el.get("initial_options") or [])}
        input_type = "checkbox" if kind == "checkboxes" else "radio"
        control = Markup("").join(
            Markup('<label class="choice"><input type="{}" name="{}" value="{}"{}> {}</label>').format(
                input_type, name, o.get("value"), Markup(" checked") if str(o.get("value")) in initial else "",
                _option_label(o, viewer))
            for o in el.get("options") or [])
        control = Markup('<div id="{}" class="choices">{}</div>').format(fid, control)
    else:
        return unknown(kind, "input element")
    return marker + control


# --------------------------------------------------------------------------- blocks


def render_block(block: Any, viewer: Viewer, errors: Mapping[str, str] | None = None) -> Markup:
    if not isinstance(block, dict):
        return unknown(type(block).__name__)
    kind = str(block.get("type", ""))
    block_id = str(block.get("block_id", ""))
    if kind == "header":
        return Markup('<h3 class="bk-header">{}</h3>').format(text_object(block.get("text"), viewer))
    if kind == "divider":
        return Markup('<hr class="bk-divider">')
    if kind == "section":
        parts = [Markup('<div class="bk-text">{}</div>').format(text_object(block["text"], viewer))] \
            if block.get("text") else []
        if block.get("fields"):
            cells = Markup("").join(Markup('<div class="bk-field">{}</div>').format(text_object(f, viewer))
                                    for f in block["fields"])
            parts.append(Markup('<div class="bk-fields">{}</div>').format(cells))
        body = Markup('<div class="bk-section-body">{}</div>').format(Markup("").join(parts))
        accessory = Markup('<div class="bk-accessory">{}</div>').format(
            interactive(block["accessory"], block_id, viewer)) if block.get("accessory") else Markup("")
        return Markup('<div class="bk-section">{}{}</div>').format(body, accessory)
    if kind == "context":
        items = []
        for el in block.get("elements") or []:
            if isinstance(el, dict) and el.get("type") == "image":
                items.append(interactive(el, block_id, viewer))
            else:
                items.append(text_object(el, viewer))
        return Markup('<div class="bk-context">{}</div>').format(Markup(" ").join(items))
    if kind == "actions":
        return Markup('<div class="bk-actions">{}</div>').format(
            Markup("").join(interactive(el, block_id, viewer) for el in block.get("elements") or []))
    if kind == "image":
        title = text_object(block.get("title"), viewer) if block.get("title") else ""
        return Markup('<div class="image-ph">[image: {}] {}</div>').format(block.get("alt_text", ""), title)
    if kind == "rich_text":
        return Markup('<div class="bk-rich">{}</div>').format(
            Markup("").join(_rich_part(p, viewer) for p in block.get("elements") or [] if isinstance(p, dict)))
    if kind == "input":
        error = (errors or {}).get(block_id)
        optional = Markup(' <span class="optional">(optional)</span>') if block.get("optional") else ""
        hint = Markup('<div class="hint">{}</div>').format(text_object(block["hint"], viewer)) \
            if block.get("hint") else ""
        err = Markup('<div class="field-error" role="alert">⚠ {}</div>').format(error) if error else ""
        element = block.get("element") or {}
        return Markup('<div class="bk-input{}" data-block="{}"><label for="{}">{}{}</label>{}{}{}</div>').format(
            " has-error" if error else "", block_id, f"{block_id}--{element.get('action_id', '')}",
            text_object(block.get("label"), viewer), optional, input_element(element, block_id, viewer), hint, err)
    return unknown(kind)


def render_blocks(blocks: Any, viewer: Viewer, *, errors: Mapping[str, str] | None = None,
                  fallback: str = "") -> Markup:
    """All of a message's or view's blocks (buttons submit the enclosing form); the text when there are none."""
    if not blocks:
        return Markup('<div class="bk-text">{}</div>').format(mrkdwn(fallback, viewer))
    if not isinstance(blocks, list):
        return unknown("blocks that are not a list")
    return Markup("").join(render_block(b, viewer, errors) for b in blocks)


def viewer_for(users: Mapping[str, Mapping[str, Any]], channels: Mapping[str, Mapping[str, Any]], user_id: str,
               now: Callable[[], datetime]) -> Viewer:
    """The viewer's zone and the directory's names, from the stand-in's users and channels."""
    me = users.get(user_id) or {}
    names = {uid: str(u.get("real_name") or u.get("name") or uid) for uid, u in users.items()}
    channel_names = {cid: str(c.get("name") or cid) for cid, c in channels.items()}
    people = sorted(((uid, n) for uid, n in names.items() if not users[uid].get("is_bot")), key=lambda p: p[1])
    return Viewer(zone=ZoneInfo(str(me.get("tz") or "Europe/London")), now=now(), names=names,
                  channels=channel_names, users=people)


